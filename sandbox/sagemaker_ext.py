"""What moto's SageMaker lacks, added as AWS documents it (sandbox and tests only).

moto 5 has no UpdateEndpoint, makes endpoints InService at once, applies
UpdateEndpointWeightsAndCapacities instantly and lets CreateModel/CreateEndpointConfig
overwrite existing resources. SageMaker itself (API reference for UpdateEndpoint,
UpdateEndpointWeightsAndCapacities, CreateEndpoint, DescribeEndpoint):

- CreateEndpoint: status Creating, then InService (or Failed with FailureReason).
- UpdateEndpoint / UpdateEndpointWeightsAndCapacities: status Updating, then InService. A
  failed update leaves the endpoint InService on its previous configuration, with
  FailureReason set. Either call on an endpoint that is not InService is refused with a
  ValidationException.
- CreateModel / CreateEndpointConfig with an existing name: ValidationException.
- Each status change is announced as a "SageMaker Endpoint State Change" event
  (EndpointStatus spelled IN_SERVICE, UPDATING, CREATING, FAILED).

``EndpointSimulator.install()`` patches moto's backend and response classes for as long as it
is installed; ``advance()`` completes the transitions that are due by the simulated clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import SagemakerClientError, ValidationError
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from .envelope import envelope


class ResourceLimitExceeded(SagemakerClientError):
    code = "ResourceLimitExceeded"


class ThrottlingException(SagemakerClientError):
    code = "ThrottlingException"


@dataclass
class Transition:
    due: datetime
    kind: str  # "create" | "config" | "weights"
    config_name: str | None = None
    weights: dict[str, float] = field(default_factory=dict)
    failure: str | None = None


def _event_status(status: str) -> str:
    """DescribeEndpoint's InService -> the event's IN_SERVICE."""
    out = ""
    for i, ch in enumerate(status):
        if ch.isupper() and i:
            out += "_"
        out += ch.upper()
    return out


class EndpointSimulator:
    """SageMaker endpoint behaviour on top of moto, driven by a (simulated) clock."""

    def __init__(
        self,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        update_seconds: float = 120,
    ) -> None:
        self.clock = clock
        self.update_seconds = update_seconds
        self.pending: dict[str, tuple[SageMakerModelBackend, Transition]] = {}
        self.fail_next: dict[str, str] = {}  # endpoint -> FailureReason of its next update
        self.reject_next: dict[str, list[SagemakerClientError]] = {}  # endpoint -> errors raised at the call
        self.outbox: list[dict[str, Any]] = []  # events announced and not yet delivered
        self.calls: list[tuple[str, str]] = []  # (operation, endpoint) of every accepted change
        # Called with (backend, endpoint name, config it moves to) when a Create/Update/weights
        # change is accepted: SageMaker's side effects beyond the endpoint (e.g. the async test
        # notifications, sandbox/jobs_ext.py).
        self.on_start: list[Callable[[SageMakerModelBackend, str, str], None]] = []
        self._saved: dict[tuple[type, str], Any] = {}

    # --- installing ---------------------------------------------------------------------

    def install(self) -> EndpointSimulator:
        sim = self
        backend_methods = {
            "update_endpoint": lambda b, **kw: sim._update_endpoint(b, **kw),
            "update_endpoint_weights_and_capacities": lambda b, endpoint_name, desired_weights_and_capacities: (
                sim._update_weights(b, endpoint_name, desired_weights_and_capacities)
            ),
            "create_endpoint": lambda b, endpoint_name, endpoint_config_name, tags: sim._create_endpoint(
                b, endpoint_name, endpoint_config_name, tags
            ),
            "create_model": lambda b, **kw: sim._create_model(b, **kw),
            "create_endpoint_config": lambda b, **kw: sim._create_endpoint_config(b, **kw),
        }
        for name, fn in backend_methods.items():
            self._saved[(SageMakerModelBackend, name)] = SageMakerModelBackend.__dict__.get(name)
            setattr(SageMakerModelBackend, name, fn)
        self._saved[(SageMakerResponse, "update_endpoint")] = SageMakerResponse.__dict__.get("update_endpoint")
        SageMakerResponse.update_endpoint = _update_endpoint_response  # type: ignore[attr-defined]
        return self

    def uninstall(self) -> None:
        for (cls, name), original in self._saved.items():
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)
        self._saved.clear()

    def __enter__(self) -> EndpointSimulator:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    # --- what SageMaker does --------------------------------------------------------------

    def _endpoint(self, backend: SageMakerModelBackend, name: str) -> FakeEndpoint:
        endpoint = backend.endpoints.get(name)
        if endpoint is None:
            arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
            raise ValidationError(message=f'Could not find endpoint "{arn}".')
        return endpoint

    def _raise_injected(self, name: str) -> None:
        queue = self.reject_next.get(name)
        if queue:
            raise queue.pop(0)

    def _require_in_service(self, endpoint: FakeEndpoint) -> None:
        if endpoint.endpoint_status != "InService":
            raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')

    def _update_endpoint(
        self, backend: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, **_: Any
    ) -> str:
        endpoint = self._endpoint(backend, endpoint_name)
        self._raise_injected(endpoint_name)
        self._require_in_service(endpoint)
        if endpoint_config_name not in backend.endpoint_configs:
            raise ValidationError(message=f'Could not find endpoint configuration "{endpoint_config_name}".')
        self._start(backend, endpoint, "Updating", Transition(self._due(), "config", config_name=endpoint_config_name))
        return str(endpoint.arn)

    def _update_weights(self, backend: SageMakerModelBackend, endpoint_name: str, desired: list[dict[str, Any]]) -> str:
        endpoint = self._endpoint(backend, endpoint_name)
        self._raise_injected(endpoint_name)
        self._require_in_service(endpoint)
        names = {v["VariantName"] for v in endpoint.production_variants}
        for variant in desired:
            if variant["VariantName"] not in names:
                raise ValidationError(
                    message=f'The variant name(s) "{variant["VariantName"]}" is/are not present within endpoint '
                    f'configuration "{endpoint.endpoint_config_name}".'
                )
        weights = {v["VariantName"]: float(v["DesiredWeight"]) for v in desired if "DesiredWeight" in v}
        for variant in endpoint.production_variants:
            if variant["VariantName"] in weights:
                variant["DesiredWeight"] = weights[variant["VariantName"]]
        self._start(backend, endpoint, "Updating", Transition(self._due(), "weights", weights=weights))
        return str(endpoint.arn)

    def _create_endpoint(
        self, backend: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, tags: Any
    ) -> FakeEndpoint:
        if endpoint_name in backend.endpoints:
            arn = FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name)
            raise ValidationError(message=f'Cannot create already existing endpoint "{arn}".')
        self._raise_injected(endpoint_name)
        if endpoint_config_name not in backend.endpoint_configs:
            raise ValidationError(message=f'Could not find endpoint configuration "{endpoint_config_name}".')
        config = backend.endpoint_configs[endpoint_config_name]
        endpoint = FakeEndpoint(  # type: ignore[abstract]
            account_id=backend.account_id,
            region_name=backend.region_name,
            endpoint_name=endpoint_name,
            endpoint_config_name=endpoint_config_name,
            production_variants=config.production_variants,
            data_capture_config=config.data_capture_config,
            tags=tags,
        )
        endpoint.production_variants = _variants(config.production_variants)
        endpoint.creation_time = self.clock()
        backend.endpoints[endpoint_name] = endpoint
        self._start(backend, endpoint, "Creating", Transition(self._due(), "create", config_name=endpoint_config_name))
        return endpoint

    def _create_model(self, backend: SageMakerModelBackend, **kwargs: Any) -> Any:
        name = kwargs["model_name"]
        if name in backend._models:
            raise ValidationError(message=f'Cannot create already existing model "{backend._models[name].arn}".')
        container = kwargs.get("primary_container") or {}
        package = container.get("ModelPackageName")
        if package is not None:
            backend.describe_model_package(package)  # ValidationException when it does not exist
        return self._saved[(SageMakerModelBackend, "create_model")](backend, **kwargs)

    def _create_endpoint_config(self, backend: SageMakerModelBackend, **kwargs: Any) -> Any:
        name = kwargs["endpoint_config_name"]
        if name in backend.endpoint_configs:
            raise ValidationError(message=f'Cannot create already existing endpoint configuration "{name}".')
        return self._saved[(SageMakerModelBackend, "create_endpoint_config")](backend, **kwargs)

    # --- time -----------------------------------------------------------------------------

    def _due(self) -> datetime:
        return self.clock() + timedelta(seconds=self.update_seconds)

    def _start(
        self, backend: SageMakerModelBackend, endpoint: FakeEndpoint, status: str, transition: Transition
    ) -> None:
        self.calls.append((transition.kind, endpoint.endpoint_name))
        transition.failure = self.fail_next.pop(endpoint.endpoint_name, None)
        endpoint.endpoint_status = status
        endpoint.last_modified_time = self.clock()
        self.pending[endpoint.endpoint_name] = (backend, transition)
        self._announce(backend, endpoint)
        for hook in self.on_start:
            hook(backend, endpoint.endpoint_name, transition.config_name or endpoint.endpoint_config_name)

    def drain(self) -> list[dict[str, Any]]:
        """The events announced since the last drain (EventBridge would deliver them)."""
        events, self.outbox = self.outbox, []
        return events

    def advance(self) -> None:
        """Complete every transition due by now (announcing each in the outbox)."""
        now = self.clock()
        for name, (backend, transition) in list(self.pending.items()):
            if transition.due > now:
                continue
            del self.pending[name]
            endpoint = backend.endpoints.get(name)
            if endpoint is None:
                continue
            self._complete(backend, endpoint, transition)
            self._announce(backend, endpoint)

    def _complete(self, backend: SageMakerModelBackend, endpoint: FakeEndpoint, transition: Transition) -> None:
        endpoint.last_modified_time = self.clock()
        if transition.failure is not None:
            endpoint.failure_reason = transition.failure  # type: ignore[assignment]
            # A failed create leaves a Failed endpoint; a failed update goes back to the
            # previous configuration and stays InService.
            endpoint.endpoint_status = "Failed" if transition.kind == "create" else "InService"
            if transition.kind == "weights":
                for variant in endpoint.production_variants:
                    variant["DesiredWeight"] = variant.get("CurrentWeight", 0.0)
            return
        endpoint.failure_reason = None
        endpoint.endpoint_status = "InService"
        if transition.kind in ("create", "config"):
            assert transition.config_name is not None
            config = backend.endpoint_configs[transition.config_name]
            endpoint.endpoint_config_name = transition.config_name
            endpoint.production_variants = _variants(config.production_variants)
        else:
            for variant in endpoint.production_variants:
                if variant["VariantName"] in transition.weights:
                    variant["CurrentWeight"] = variant["DesiredWeight"] = transition.weights[variant["VariantName"]]

    def _announce(self, backend: SageMakerModelBackend, endpoint: FakeEndpoint) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "EndpointName": endpoint.endpoint_name,
            "EndpointArn": endpoint.arn,
            "EndpointConfigName": endpoint.endpoint_config_name,
            "ProductionVariants": [dict(v) for v in endpoint.production_variants],
            "EndpointStatus": _event_status(endpoint.endpoint_status),
            "CreationTime": endpoint.creation_time.timestamp() * 1000,
            "LastModifiedTime": endpoint.last_modified_time.timestamp() * 1000,
            "Tags": {},
        }
        if endpoint.failure_reason:
            detail["FailureReason"] = endpoint.failure_reason
        event = envelope(
            "aws.sagemaker",
            "SageMaker Endpoint State Change",
            [endpoint.arn],
            detail,
            self.clock(),
            backend.account_id,
            backend.region_name,
        )
        self.outbox.append(event)
        return event


def _variants(config_variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """DescribeEndpoint's ProductionVariants for a config (weight 0 included, unlike moto)."""
    return [
        {
            "VariantName": v["VariantName"],
            "CurrentWeight": float(v.get("InitialVariantWeight", 1.0)),
            "DesiredWeight": float(v.get("InitialVariantWeight", 1.0)),
            "CurrentInstanceCount": int(v.get("InitialInstanceCount", 1)),
            "DesiredInstanceCount": int(v.get("InitialInstanceCount", 1)),
        }
        for v in config_variants
    ]


def _update_endpoint_response(self: SageMakerResponse) -> ActionResult:
    arn = self.sagemaker_backend.update_endpoint(  # type: ignore[attr-defined]
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
        retain_all_variant_properties=self._get_param("RetainAllVariantProperties", False),
    )
    return ActionResult({"EndpointArn": arn})
