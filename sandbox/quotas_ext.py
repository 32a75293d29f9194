"""The account's SageMaker endpoint instance quotas, as Service Quotas and SageMaker show them.

moto 5.2.5 has no ListServiceQuotas and nothing for service code ``sagemaker``. Here:

- ListServiceQuotas(ServiceCode="sagemaker") (Service Quotas API reference) answers one quota
  per instance type of the simulated account, named "<type> for endpoint usage" with a
  QuotaCode, Value and Unit "None" as the real listing has them, in pages of MaxResults
  (default 100) with NextToken. Other service codes keep moto's answer (nothing listed).
- SageMaker enforces them: a CreateEndpoint, UpdateEndpoint (a new fleet for the whole config
  while the old one runs: UpdateEndpoint API reference) or UpdateEndpointWeightsAndCapacities
  that raises a variant's DesiredInstanceCount, which would take the account past a type's
  quota, is refused with ResourceLimitExceeded and SageMaker's message ("The account-level
  service limit 'ml.g4dn.xlarge for endpoint usage' is 0 Instances, with current utilization of
  0 Instances and a request delta of 1 Instances. ..."). A type the account has no quota
  listed for is not limited here. A shadow variant (ShadowProductionVariants, issue 13) has an
  InstanceType and InitialInstanceCount of its own in CreateEndpointConfig and runs on
  instances of its own: counted as the production variants are (the docs do not single shadow
  variants out of "endpoint usage"; the stricter reading).

Quotas are per account ("Service Quotas ... for your AWS account", Service Quotas user guide):
a world of stacks keeps one set per account (``set``), the defaults where a scenario sets none.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.sagemaker.models import SageMakerModelBackend
from moto.servicequotas.responses import ServiceQuotasResponse

from .sagemaker_ext import EndpointSimulator, ResourceLimitExceeded

# The simulated account's quotas when a scenario sets none (generous: other scenarios are
# about other behaviour). A scenario's ``quota:`` replaces a type's value.
DEFAULT_QUOTAS = {"ml.m5.large": 20, "ml.m5.xlarge": 20, "ml.g4dn.xlarge": 4, "ml.g5.xlarge": 4}
_NOT_RUNNING = frozenset({"Failed", "Deleting", "OutOfService"})


class AccessDeniedException(JsonRESTError):
    """What Service Quotas answers a caller whose policy lacks the action (Service Quotas API
    reference, Errors: AccessDeniedException, "You do not have sufficient permission")."""

    def __init__(self, message: str) -> None:
        super().__init__("AccessDeniedException", message)


def quota_code(instance_type: str) -> str:
    """A stable L-XXXXXXXX code per type (real codes differ per type and are opaque)."""
    return "L-" + hashlib.sha256(instance_type.encode()).hexdigest()[:8].upper()


class InstanceQuotas:
    """Per-type endpoint instance quotas: listed by Service Quotas, enforced by SageMaker."""

    def __init__(self, simulator: EndpointSimulator) -> None:
        self.simulator = simulator
        self.by_account: dict[str, dict[str, int]] = {}
        self.unreadable: set[str] = set()  # accounts whose ListServiceQuotas is denied (SageMaker still enforces)
        self._saved: Any = None

    def set(self, account: str, quotas: dict[str, int] | None) -> None:
        """``account``'s quotas: the defaults, with ``quotas`` replacing a type's value."""
        self.by_account[account] = {**DEFAULT_QUOTAS, **(quotas or {})}

    def of(self, account: str) -> dict[str, int]:
        """``account``'s quotas (a scenario or test may change them in place)."""
        return self.by_account.setdefault(account, dict(DEFAULT_QUOTAS))

    def install(self) -> InstanceQuotas:
        quotas = self

        def list_service_quotas(response: ServiceQuotasResponse) -> str:
            return quotas._list(response)

        self._saved = ServiceQuotasResponse.__dict__.get("list_service_quotas")
        ServiceQuotasResponse.list_service_quotas = list_service_quotas  # type: ignore[attr-defined]
        self.simulator.quota_check = self.require
        return self

    def uninstall(self) -> None:
        if self._saved is None:
            delattr(ServiceQuotasResponse, "list_service_quotas")
        else:
            ServiceQuotasResponse.list_service_quotas = self._saved  # type: ignore[attr-defined]
        self.simulator.quota_check = None

    # --- Service Quotas ---------------------------------------------------------------------

    def _list(self, response: ServiceQuotasResponse) -> str:
        params = json.loads(response.body or "{}")
        listed = []
        region, account = response.region, response.current_account
        if account in self.unreadable:
            raise AccessDeniedException(
                f"User: arn:aws:sts::{account}:assumed-role/controller is not authorized to perform: "
                "servicequotas:ListServiceQuotas"
            )
        if params.get("ServiceCode") == "sagemaker":
            for instance_type, value in sorted(self.of(account).items()):
                code = quota_code(instance_type)
                listed.append(
                    {
                        "ServiceCode": "sagemaker",
                        "ServiceName": "Amazon SageMaker",
                        "QuotaArn": f"arn:aws:servicequotas:{region}:{account}:sagemaker/{code}",
                        "QuotaCode": code,
                        "QuotaName": f"{instance_type} for endpoint usage",
                        "Value": float(value),
                        "Unit": "None",
                        "Adjustable": True,
                        "GlobalQuota": False,
                    }
                )
        start = int(params.get("NextToken") or 0)
        size = int(params.get("MaxResults") or 100)
        page: dict[str, Any] = {"Quotas": listed[start : start + size]}
        if start + size < len(listed):
            page["NextToken"] = str(start + size)
        return json.dumps(page)

    # --- SageMaker ---------------------------------------------------------------------------

    def in_use(self, backend: SageMakerModelBackend) -> Counter[str]:
        """Instances per type: every running endpoint's, and the new fleets being brought up."""
        used: Counter[str] = Counter()
        for endpoint in backend.endpoints.values():
            if endpoint.endpoint_status in _NOT_RUNNING:
                continue
            types = self._types(backend, endpoint.endpoint_config_name)
            shadows = getattr(endpoint, "shadow_production_variants", None) or []
            for variant in [*endpoint.production_variants, *shadows]:
                used[types.get(variant["VariantName"], "")] += int(variant.get("CurrentInstanceCount", 0))
        for name, (_, transition) in self.simulator.pending.items():
            if transition.kind == "config" and transition.config_name:
                used += self.fleet(backend, transition.config_name)
            elif transition.kind == "weights" and name in backend.endpoints:
                endpoint = backend.endpoints[name]
                live = endpoint.production_variants
                used += self.raised(backend, endpoint.endpoint_config_name, live, transition.instances)
        return used

    def fleet(self, backend: SageMakerModelBackend, config_name: str) -> Counter[str]:
        """The instances a config's fleet runs, per type."""
        config = backend.endpoint_configs[config_name]
        fleet: Counter[str] = Counter()
        for variant in [*config.production_variants, *self.simulator.shadow_variants(config_name)]:
            fleet[str(variant.get("InstanceType", ""))] += int(variant.get("InitialInstanceCount", 1))
        return fleet

    def raised(
        self, backend: SageMakerModelBackend, config_name: str, live: list[dict[str, Any]], counts: dict[str, int]
    ) -> Counter[str]:
        """Instances added by new DesiredInstanceCounts, per type."""
        types = self._types(backend, config_name)
        current = {v["VariantName"]: int(v.get("CurrentInstanceCount", 0)) for v in live}
        added: Counter[str] = Counter()
        for variant, count in counts.items():
            added[types.get(variant, "")] += max(0, count - current.get(variant, 0))
        return added

    def require(self, backend: SageMakerModelBackend, delta: Counter[str]) -> None:
        used = self.in_use(backend)
        quotas = self.of(backend.account_id)
        for instance_type, more in sorted(delta.items()):
            quota = quotas.get(instance_type)
            if quota is not None and more > 0 and used[instance_type] + more > quota:
                raise ResourceLimitExceeded(
                    f"The account-level service limit '{instance_type} for endpoint usage' is {quota} Instances, "
                    f"with current utilization of {used[instance_type]} Instances and a request delta of {more} "
                    "Instances. Please use AWS Service Quotas to request an increase for this quota. If AWS "
                    "Service Quotas is not available, contact AWS support to request an increase for this quota."
                )

    def _types(self, backend: SageMakerModelBackend, config_name: str) -> dict[str, str]:
        config = backend.endpoint_configs.get(config_name)
        variants = [*config.production_variants, *self.simulator.shadow_variants(config_name)] if config else []
        return {v["VariantName"]: str(v.get("InstanceType", "")) for v in variants}
