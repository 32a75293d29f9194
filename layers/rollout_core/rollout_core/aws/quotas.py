"""Service Quotas and SageMaker: each instance type's endpoint quota and what the account runs.

- ListServiceQuotas(ServiceCode="sagemaker") "lists the applied quota values"; SageMaker's
  endpoint quotas are named "<instance type> for endpoint usage" (their QuotaCode differs per
  type and region, so they are found by name). "If the applied quota value is not available
  for a quota, the quota is not retrieved": a type not listed is reported, not guessed.
- SageMaker publishes no usage for these quotas, so the instances in use are counted:
  ListEndpoints, then per endpoint DescribeEndpoint (CurrentInstanceCount per variant, shadow
  variants included) and DescribeEndpointConfig (the variant's InstanceType), at most
  MAX_ENDPOINTS endpoints.

A read that fails (AccessDenied, throttling after the client's retries, too many endpoints)
becomes a warning: the pre-flight is advice, SageMaker still has the last word.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..models import InstanceQuota
from ..preflight import QUOTA_NAME
from .clients import error_code

MAX_ENDPOINTS = 100  # endpoints described to count usage; more: the pre-flight is skipped
# Statuses whose instances are not running (DescribeEndpoint EndpointStatus).
_NOT_RUNNING = frozenset({"Failed", "Deleting", "OutOfService"})


@dataclass
class QuotaReadings:
    quotas: dict[str, InstanceQuota] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class QuotaGateway:
    def __init__(self, service_quotas: Any, sagemaker: Any) -> None:
        self._sq = service_quotas
        self._sm = sagemaker

    def read(self, instance_types: Iterable[str]) -> QuotaReadings:
        wanted = sorted(set(instance_types))
        readings = QuotaReadings()
        try:
            applied = self._applied(wanted)
            in_use = self._in_use()
        except (ClientError, BotoCoreError, _TooMany) as exc:
            code, message = error_code(exc) if isinstance(exc, ClientError) else (type(exc).__name__, str(exc))
            readings.warnings.append(f"could not read quotas or usage ({code}: {message})")
            return readings
        for instance_type in wanted:
            if instance_type not in applied:
                name = QUOTA_NAME.format(instance_type=instance_type)
                readings.warnings.append(f"Service Quotas lists no applied value for '{name}'")
                continue
            value, code = applied[instance_type]
            readings.quotas[instance_type] = InstanceQuota(
                instance_type=instance_type, quota=value, in_use=in_use[instance_type], quota_code=code
            )
        return readings

    def _applied(self, wanted: list[str]) -> dict[str, tuple[int, str]]:
        names = {QUOTA_NAME.format(instance_type=t): t for t in wanted}
        found: dict[str, tuple[int, str]] = {}
        for page in self._sq.get_paginator("list_service_quotas").paginate(ServiceCode="sagemaker"):
            for quota in page.get("Quotas", []):
                instance_type = names.get(quota.get("QuotaName", ""))
                if instance_type is not None:
                    found[instance_type] = (int(quota["Value"]), str(quota.get("QuotaCode", "")))
        return found

    def _in_use(self) -> Counter[str]:
        names = [
            e["EndpointName"]
            for page in self._sm.get_paginator("list_endpoints").paginate()
            for e in page.get("Endpoints", [])
            if e.get("EndpointStatus") not in _NOT_RUNNING
        ]
        if len(names) > MAX_ENDPOINTS:
            raise _TooMany(f"{len(names)} endpoints, more than the {MAX_ENDPOINTS} counted")
        used: Counter[str] = Counter()
        for name in names:
            try:
                described = self._sm.describe_endpoint(EndpointName=name)
                config = self._sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
            except ClientError as exc:
                if error_code(exc)[0] == "ValidationException":
                    continue  # deleted since it was listed
                raise
            # A shadow variant (ShadowProductionVariants in both answers) runs on instances of its own.
            configured = [*config.get("ProductionVariants", []), *config.get("ShadowProductionVariants", [])]
            types = {v["VariantName"]: v.get("InstanceType") for v in configured}
            for variant in [*described.get("ProductionVariants", []), *described.get("ShadowProductionVariants", [])]:
                instance_type = types.get(variant["VariantName"])
                if instance_type:
                    used[instance_type] += int(variant.get("CurrentInstanceCount") or 0)
        return used


class _TooMany(Exception):
    """More endpoints than the pre-flight describes."""
