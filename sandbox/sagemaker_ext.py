"""What moto's SageMaker lacks, added as AWS documents it (sandbox and tests only).

moto 5 has no UpdateEndpoint, makes endpoints InService at once, applies
UpdateEndpointWeightsAndCapacities instantly, deletes endpoints at once, keeps only some
fields of an endpoint config, refuses nothing of what SageMaker refuses and lets
CreateModel/CreateEndpointConfig overwrite existing resources. SageMaker itself (API
reference of each call; DescribeEndpoint's EndpointStatus list):

- CreateEndpoint: status Creating, then InService (or Failed with FailureReason).
- UpdateEndpoint / UpdateEndpointWeightsAndCapacities: status Updating, then InService (with
  RetainAllVariantProperties, variants kept by the new config keep their live instance count
  and weight; otherwise they take the config's). A
  failed update goes back to the previous configuration, InService with FailureReason set
  (or, as a scenario may ask: Failed, where "DeleteEndpoint is the only operation that can
  be performed", or UpdateRollbackFailed, "a mix of the old and new configurations").
  Either call on an endpoint that is not InService is refused with a ValidationException.
- UpdateEndpointWeightsAndCapacities changes "variant weight of one or more variants, or
  capacity of one variant": DesiredInstanceCount for more than one variant is refused here
  (the stricter reading); the new count is CurrentInstanceCount once InService.
- DeleteEndpoint: status Deleting, then gone ("SageMaker asynchronously deletes associated
  endpoint resources"); the name cannot be used again until then.
- CreateEndpoint API reference: the config is read with an eventually consistent read, so a
  config (or a model) created a moment ago may not be found yet: ``lookup_seconds`` makes
  every new model/config invisible to the calls that use it for that long.
- "You must not delete an EndpointConfig in use by an endpoint that is live or while the
  UpdateEndpoint or CreateEndpoint operations are being performed": refused here, and so is
  deleting a model such a config uses, or updating to a config whose model is gone.
- "Update or delete endpoints that use automatic scaling" (SageMaker developer guide): a
  variant registered with Application Auto Scaling must be deregistered before an update
  removes it or changes its instance type: refused here otherwise.
- CreateModel / CreateEndpointConfig with an existing name: ValidationException.
- DescribeEndpointConfig returns every field CreateEndpointConfig was given.
- ShadowProductionVariants (CreateEndpointConfig API reference: "If you use this field, you can
  only specify one variant for ProductionVariants and one variant for ShadowProductionVariants";
  "Create a shadow test": at most one shadow variant per endpoint, and then one production
  variant). How the share of requests copied to the shadow is written in a config is not in the
  API reference: the guide's example ("Testing models with shadow variants") gives both variants
  InitialVariantWeight 1 for every request; here the shadow's weight is read relative to the
  production variant's, and a ratio outside 1-100 % (ShadowModelVariantConfig
  SamplingPercentage: at most 100) is refused: the stricter reading. DescribeEndpoint lists the
  shadow under ShadowProductionVariants, never among the weighted ProductionVariants; an
  UpdateEndpoint to a config without one removes it.
- Each status change is announced as a "SageMaker Endpoint State Change" event
  (EndpointStatus spelled IN_SERVICE, UPDATING, CREATING, FAILED, DELETING, ...).

``EndpointSimulator.install()`` patches moto's backend and response classes for as long as it
is installed; ``advance()`` completes the transitions that are due by the simulated clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import SagemakerClientError, ValidationError
from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from .envelope import envelope

AUTOSCALING_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


class ResourceLimitExceeded(SagemakerClientError):
    code = "ResourceLimitExceeded"


class ThrottlingException(SagemakerClientError):
    code = "ThrottlingException"


@dataclass(frozen=True)
class Failure:
    """How the next update of an endpoint fails: its FailureReason and the status it leaves."""

    reason: str
    status: str = "InService"  # InService (back on the previous config) | Failed | UpdateRollbackFailed
    log: str | None = None  # what the new containers wrote (sandbox/logs_ext.py), e.g. a failed /ping


@dataclass
class Transition:
    due: datetime
    kind: str  # "create" | "config" | "weights" | "delete"
    config_name: str | None = None
    weights: dict[str, float] = field(default_factory=dict)
    instances: dict[str, int] = field(default_factory=dict)
    # UpdateEndpoint RetainAllVariantProperties: variants the endpoint keeps keep their live
    # instance count and weight (false: the new config's values).
    retain: bool = False
    failure: Failure | None = None


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
        lookup_seconds: float = 0,
    ) -> None:
        self.clock = clock
        self.update_seconds = update_seconds
        # AWS says a lookup right after a create *can* fail; 0 (off) keeps scenarios about other
        # behaviour readable; the eventual-consistency scenario and tests turn it on.
        self.lookup_seconds = lookup_seconds
        self.pending: dict[str, tuple[SageMakerModelBackend, Transition]] = {}
        self.fail_next: dict[str, Failure | str] = {}  # endpoint -> how its next update fails
        self.reject_next: dict[str, list[SagemakerClientError]] = {}  # endpoint -> errors raised at the call
        # endpoint -> instance count autoscaling moves the serving variant to, the moment the next
        # update arrives (so that update is refused as in progress: the race AWS allows).
        self.autoscale_before_next: dict[str, int] = {}
        self.outbox: list[dict[str, Any]] = []  # events announced and not yet delivered
        self.calls: list[tuple[str, str]] = []  # (operation, endpoint) of every accepted change
        self.visible_at: dict[tuple[str, str], datetime] = {}  # ("model"|"config", name) -> when
        self.configs: dict[str, dict[str, Any]] = {}  # config name -> its CreateEndpointConfig request
        # Called with (backend, endpoint name, config it moves to) when a Create/Update/weights
        # change is accepted: SageMaker's side effects beyond the endpoint (e.g. the async test
        # notifications, sandbox/jobs_ext.py).
        self.on_start: list[Callable[[SageMakerModelBackend, str, str], None]] = []
        # Called with (backend, endpoint, transition) when a transition completes (or fails):
        # e.g. the containers' log lines (sandbox/logs_ext.py).
        self.on_complete: list[Callable[[SageMakerModelBackend, FakeEndpoint, Transition], None]] = []
        # Called with (backend, instances added per type) before a change that adds instances is
        # accepted; raises ResourceLimitExceeded past a quota (sandbox/quotas_ext.py installs it).
        self.quota_check: Callable[[SageMakerModelBackend, Counter[str]], None] | None = None
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
            "delete_endpoint": lambda b, endpoint_name: sim._delete_endpoint(b, endpoint_name),
            "create_model": lambda b, **kw: sim._create_model(b, **kw),
            "delete_model": lambda b, model_name: sim._delete_model(b, model_name),
            "create_endpoint_config": lambda b, **kw: sim._create_endpoint_config(b, **kw),
            "describe_endpoint_config": lambda b, endpoint_config_name: sim._describe_endpoint_config(
                b, endpoint_config_name
            ),
            "delete_endpoint_config": lambda b, endpoint_config_name: sim._delete_endpoint_config(
                b, endpoint_config_name
            ),
        }
        for name, fn in backend_methods.items():
            self._saved[(SageMakerModelBackend, name)] = SageMakerModelBackend.__dict__.get(name)
            setattr(SageMakerModelBackend, name, fn)
        for name, fn in (
            ("update_endpoint", _update_endpoint_response),
            ("create_endpoint_config", lambda r: _create_endpoint_config_response(sim, r)),
        ):
            self._saved[(SageMakerResponse, name)] = SageMakerResponse.__dict__.get(name)
            setattr(SageMakerResponse, name, fn)
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

    # --- what SageMaker refuses ------------------------------------------------------------

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

    def _visible(self, kind: str, name: str) -> bool:
        return self.visible_at.get((kind, name), datetime.min.replace(tzinfo=UTC)) <= self.clock()

    def _require_config(self, backend: SageMakerModelBackend, config_name: str) -> FakeEndpointConfig:
        config = backend.endpoint_configs.get(config_name)
        if config is None or not self._visible("config", config_name):
            arn = FakeEndpointConfig.arn_formatter(config_name, backend.account_id, backend.region_name)
            raise ValidationError(message=f'Could not find endpoint configuration "{arn}".')
        for variant in config.production_variants + self.shadow_variants(config_name):
            self._require_model(backend, variant.get("ModelName"))
        return config

    def shadow_variants(self, config_name: str) -> list[dict[str, Any]]:
        """The config's ShadowProductionVariants, as CreateEndpointConfig was given them."""
        return list((self.configs.get(config_name) or {}).get("ShadowProductionVariants") or [])

    @staticmethod
    def sampling(endpoint: FakeEndpoint) -> dict[str, float]:
        """Shadow variant -> the share of the production variant's requests copied to it (0..1)."""
        shadows = getattr(endpoint, "shadow_production_variants", None) or []
        production = sum(float(v.get("CurrentWeight", 0.0)) for v in endpoint.production_variants)
        if production <= 0:
            return {}
        return {v["VariantName"]: min(1.0, float(v.get("CurrentWeight", 0.0)) / production) for v in shadows}

    def _require_model(self, backend: SageMakerModelBackend, model_name: str | None) -> None:
        if model_name and (model_name not in backend._models or not self._visible("model", model_name)):
            arn = f"arn:aws:sagemaker:{backend.region_name}:{backend.account_id}:model/{model_name.lower()}"
            raise ValidationError(message=f'Could not find model "{arn}".')

    def _require_no_autoscaling_lost(
        self, backend: SageMakerModelBackend, endpoint: FakeEndpoint, config: FakeEndpointConfig
    ) -> None:
        """A variant under Application Auto Scaling may not be removed or change instance type."""
        registered = applicationautoscaling_backends[backend.account_id][backend.region_name].targets.get(
            AUTOSCALING_DIMENSION, {}
        )
        current = backend.endpoint_configs.get(endpoint.endpoint_config_name)
        types_now = {v["VariantName"]: v.get("InstanceType") for v in (current.production_variants if current else [])}
        types_next = {v["VariantName"]: v.get("InstanceType") for v in config.production_variants}
        for variant, instance_type in types_now.items():
            if f"endpoint/{endpoint.endpoint_name}/variant/{variant}" not in registered:
                continue
            if variant not in types_next or types_next[variant] != instance_type:
                raise ValidationError(
                    message=f'The variant "{variant}" of endpoint "{endpoint.endpoint_name}" is registered with '
                    "Application Auto Scaling: deregister its scalable target before an update removes the "
                    "variant or changes its instance type."
                )

    def _require_quota(self, backend: SageMakerModelBackend, config: FakeEndpointConfig) -> None:
        if self.quota_check is not None:
            fleet: Counter[str] = Counter()
            for v in [*config.production_variants, *self.shadow_variants(config.endpoint_config_name)]:
                fleet[str(v.get("InstanceType", ""))] += int(v.get("InitialInstanceCount", 1))  # a shadow's too
            self.quota_check(backend, fleet)

    def _configs_in_use(self, backend: SageMakerModelBackend) -> dict[str, str]:
        """Config name -> the endpoint that serves it or is being moved to it."""
        used = {e.endpoint_config_name: name for name, e in backend.endpoints.items()}
        for name, (_, transition) in self.pending.items():
            if transition.config_name:
                used[transition.config_name] = name
        return used

    # --- what SageMaker does --------------------------------------------------------------

    def _update_endpoint(
        self,
        backend: SageMakerModelBackend,
        endpoint_name: str,
        endpoint_config_name: str,
        retain_all_variant_properties: bool = False,
        **_: Any,
    ) -> str:
        endpoint = self._endpoint(backend, endpoint_name)
        self._raise_injected(endpoint_name)
        self._race_with_autoscaling(backend, endpoint)
        self._require_in_service(endpoint)
        config = self._require_config(backend, endpoint_config_name)
        self._require_no_autoscaling_lost(backend, endpoint, config)
        self._require_quota(backend, config)  # a new fleet for the whole config
        transition = Transition(
            self._due(), "config", config_name=endpoint_config_name, retain=bool(retain_all_variant_properties)
        )
        self._start(backend, endpoint, "Updating", transition)
        return str(endpoint.arn)

    def _update_weights(self, backend: SageMakerModelBackend, endpoint_name: str, desired: list[dict[str, Any]]) -> str:
        endpoint = self._endpoint(backend, endpoint_name)
        self._raise_injected(endpoint_name)
        self._race_with_autoscaling(backend, endpoint)
        return self._change_weights(backend, endpoint, desired)

    def _change_weights(
        self, backend: SageMakerModelBackend, endpoint: FakeEndpoint, desired: list[dict[str, Any]]
    ) -> str:
        self._require_in_service(endpoint)
        names = {v["VariantName"] for v in endpoint.production_variants}
        for variant in desired:
            if variant["VariantName"] not in names:
                raise ValidationError(
                    message=f'The variant name(s) "{variant["VariantName"]}" is/are not present within endpoint '
                    f'configuration "{endpoint.endpoint_config_name}".'
                )
        instances = {v["VariantName"]: int(v["DesiredInstanceCount"]) for v in desired if "DesiredInstanceCount" in v}
        if len(instances) > 1:
            raise ValidationError(
                message="UpdateEndpointWeightsAndCapacities changes the capacity of one variant per request."
            )
        if self.quota_check is not None and instances:
            config = backend.endpoint_configs[endpoint.endpoint_config_name]
            types = {v["VariantName"]: str(v.get("InstanceType", "")) for v in config.production_variants}
            live = {v["VariantName"]: int(v.get("CurrentInstanceCount", 0)) for v in endpoint.production_variants}
            self.quota_check(backend, Counter({types[n]: max(0, c - live.get(n, 0)) for n, c in instances.items()}))
        weights = {v["VariantName"]: float(v["DesiredWeight"]) for v in desired if "DesiredWeight" in v}
        for variant in endpoint.production_variants:
            if variant["VariantName"] in weights:
                variant["DesiredWeight"] = weights[variant["VariantName"]]
            if variant["VariantName"] in instances:
                variant["DesiredInstanceCount"] = instances[variant["VariantName"]]
        transition = Transition(self._due(), "weights", weights=weights, instances=instances)
        self._start(backend, endpoint, "Updating", transition)
        return str(endpoint.arn)

    def autoscale(
        self, backend: SageMakerModelBackend, endpoint_name: str, count: int, variant: str | None = None
    ) -> None:
        """Application Auto Scaling changes a variant's instance count (the serving one by default),
        as its service-linked role does: with UpdateEndpointWeightsAndCapacities."""
        endpoint = self._endpoint(backend, endpoint_name)
        name = (
            variant or max(endpoint.production_variants, key=lambda v: float(v.get("CurrentWeight", 0)))["VariantName"]
        )
        self._change_weights(backend, endpoint, [{"VariantName": name, "DesiredInstanceCount": count}])

    def _race_with_autoscaling(self, backend: SageMakerModelBackend, endpoint: FakeEndpoint) -> None:
        count = self.autoscale_before_next.pop(endpoint.endpoint_name, None)
        if count is not None and endpoint.endpoint_status == "InService":
            self.autoscale(backend, endpoint.endpoint_name, count)  # the refusal follows: it is Updating

    def _create_endpoint(
        self, backend: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, tags: Any
    ) -> FakeEndpoint:
        if endpoint_name in backend.endpoints:
            arn = FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name)
            raise ValidationError(message=f'Cannot create already existing endpoint "{arn}".')
        self._raise_injected(endpoint_name)
        config = self._require_config(backend, endpoint_config_name)
        self._require_quota(backend, config)
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
        _put_shadows(endpoint, self.shadow_variants(endpoint_config_name))
        endpoint.creation_time = self.clock()
        backend.endpoints[endpoint_name] = endpoint
        self._start(backend, endpoint, "Creating", Transition(self._due(), "create", config_name=endpoint_config_name))
        return endpoint

    def _delete_endpoint(self, backend: SageMakerModelBackend, endpoint_name: str) -> None:
        endpoint = self._endpoint(backend, endpoint_name)
        self._raise_injected(endpoint_name)
        if endpoint.endpoint_status == "Deleting":
            return
        self.pending.pop(endpoint_name, None)  # whatever was under way stops
        self._start(backend, endpoint, "Deleting", Transition(self._due(), "delete"))

    def _create_model(self, backend: SageMakerModelBackend, **kwargs: Any) -> Any:
        name = kwargs["model_name"]
        if name in backend._models:
            raise ValidationError(message=f'Cannot create already existing model "{backend._models[name].arn}".')
        container = kwargs.get("primary_container") or {}
        package = container.get("ModelPackageName")
        if package is not None:
            backend.describe_model_package(package)  # ValidationException when it does not exist
        created = self._saved[(SageMakerModelBackend, "create_model")](backend, **kwargs)
        self.visible_at[("model", name)] = self.clock() + timedelta(seconds=self.lookup_seconds)
        return created

    def _delete_model(self, backend: SageMakerModelBackend, model_name: str) -> None:
        in_use = self._configs_in_use(backend)
        for config_name, endpoint in in_use.items():
            config = backend.endpoint_configs.get(config_name)
            variants = (config.production_variants if config else []) + self.shadow_variants(config_name)
            if config and any(v.get("ModelName") == model_name for v in variants):
                raise ValidationError(
                    message=f'Cannot delete model "{model_name}": endpoint "{endpoint}" uses it through '
                    f'configuration "{config_name}" (sandbox: AWS says an endpoint\'s config and model must not '
                    "be deleted while it is live)."
                )
        self._saved[(SageMakerModelBackend, "delete_model")](backend, model_name)

    def _create_endpoint_config(self, backend: SageMakerModelBackend, **kwargs: Any) -> Any:
        name = kwargs["endpoint_config_name"]
        if name in backend.endpoint_configs:
            raise ValidationError(message=f'Cannot create already existing endpoint configuration "{name}".')
        shadows = kwargs.pop("shadow_production_variants", None) or []
        production = kwargs.get("production_variants") or []
        _require_valid_shadow(production, shadows)
        for variant in production + shadows:
            self._require_model(backend, variant.get("ModelName"))
        created = self._saved[(SageMakerModelBackend, "create_endpoint_config")](backend, **kwargs)
        self.visible_at[("config", name)] = self.clock() + timedelta(seconds=self.lookup_seconds)
        return created

    def _describe_endpoint_config(self, backend: SageMakerModelBackend, endpoint_config_name: str) -> dict[str, Any]:
        described: dict[str, Any] = self._saved[(SageMakerModelBackend, "describe_endpoint_config")](
            backend, endpoint_config_name
        )
        request = self.configs.get(endpoint_config_name)
        if request is None:
            return described
        own = {k: described[k] for k in ("EndpointConfigName", "EndpointConfigArn", "CreationTime")}
        return {**{k: v for k, v in request.items() if k != "Tags"}, **own}

    def _delete_endpoint_config(self, backend: SageMakerModelBackend, endpoint_config_name: str) -> None:
        endpoint = self._configs_in_use(backend).get(endpoint_config_name)
        if endpoint is not None:
            raise ValidationError(
                message=f'Cannot delete endpoint configuration "{endpoint_config_name}": endpoint "{endpoint}" '
                "uses it (sandbox: AWS says an EndpointConfig in use by a live endpoint must not be deleted)."
            )
        self._saved[(SageMakerModelBackend, "delete_endpoint_config")](backend, endpoint_config_name)
        self.configs.pop(endpoint_config_name, None)

    # --- time -----------------------------------------------------------------------------

    def _due(self) -> datetime:
        return self.clock() + timedelta(seconds=self.update_seconds)

    def _start(
        self, backend: SageMakerModelBackend, endpoint: FakeEndpoint, status: str, transition: Transition
    ) -> None:
        self.calls.append((transition.kind, endpoint.endpoint_name))
        if transition.kind != "delete":
            failure = self.fail_next.pop(endpoint.endpoint_name, None)
            transition.failure = Failure(failure) if isinstance(failure, str) else failure
        endpoint.endpoint_status = status
        endpoint.last_modified_time = self.clock()
        self.pending[endpoint.endpoint_name] = (backend, transition)
        self._announce(backend, endpoint)
        if transition.kind != "delete":
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
            if transition.kind == "delete":
                del backend.endpoints[name]
                continue
            self._complete(backend, endpoint, transition)
            for hook in self.on_complete:
                hook(backend, endpoint, transition)
            self._announce(backend, endpoint)

    def _complete(self, backend: SageMakerModelBackend, endpoint: FakeEndpoint, transition: Transition) -> None:
        endpoint.last_modified_time = self.clock()
        failure = transition.failure
        if failure is not None:
            endpoint.failure_reason = failure.reason  # type: ignore[assignment]
            # A failed create leaves a Failed endpoint; a failed update goes back to the
            # previous configuration (InService), unless the scenario asks for worse.
            endpoint.endpoint_status = "Failed" if transition.kind == "create" else failure.status
            for variant in endpoint.production_variants:
                variant["DesiredWeight"] = variant.get("CurrentWeight", 0.0)
                variant["DesiredInstanceCount"] = variant.get("CurrentInstanceCount", 1)
            return
        endpoint.failure_reason = None
        endpoint.endpoint_status = "InService"
        if transition.kind in ("create", "config"):
            assert transition.config_name is not None
            config = backend.endpoint_configs[transition.config_name]
            before = {v["VariantName"]: v for v in endpoint.production_variants}
            endpoint.endpoint_config_name = transition.config_name
            endpoint.production_variants = _variants(config.production_variants)
            # A shadow goes and comes with the config (its copy of the requests is not retained).
            _put_shadows(endpoint, self.shadow_variants(transition.config_name))
            if transition.retain:
                for variant in endpoint.production_variants:
                    kept = before.get(variant["VariantName"])
                    if kept is not None:
                        variant.update({k: kept[k] for k in _LIVE_PROPERTIES if k in kept})
            return
        for variant in endpoint.production_variants:
            name = variant["VariantName"]
            if name in transition.weights:
                variant["CurrentWeight"] = variant["DesiredWeight"] = transition.weights[name]
            if name in transition.instances:
                variant["CurrentInstanceCount"] = variant["DesiredInstanceCount"] = transition.instances[name]

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


_LIVE_PROPERTIES = ("CurrentWeight", "DesiredWeight", "CurrentInstanceCount", "DesiredInstanceCount")


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


def _put_shadows(endpoint: Any, config_shadows: list[dict[str, Any]]) -> None:
    """DescribeEndpoint's ShadowProductionVariants (moto's FakeEndpoint has no such attribute;
    its response object lists every attribute that is not None)."""
    endpoint.shadow_production_variants = _variants(config_shadows) or None


def _require_valid_shadow(production: list[dict[str, Any]], shadows: list[dict[str, Any]]) -> None:
    """CreateEndpointConfig's rules for ShadowProductionVariants (module docstring)."""
    if not shadows:
        return
    if len(production) != 1 or len(shadows) != 1:
        raise ValidationError(
            message="When ShadowProductionVariants is specified, exactly one variant is allowed in "
            f"ProductionVariants and in ShadowProductionVariants (got {len(production)} and {len(shadows)})."
        )
    (main,), (shadow,) = production, shadows
    if main["VariantName"] == shadow["VariantName"]:
        raise ValidationError(message=f'Variant name "{shadow["VariantName"]}" is used more than once.')
    weight, shadow_weight = float(main.get("InitialVariantWeight", 1.0)), float(shadow.get("InitialVariantWeight", 1.0))
    percent = 100 * shadow_weight / weight if weight > 0 else 0
    if not 1 <= round(percent, 6) <= 100:
        raise ValidationError(
            message=f"The shadow variant's weight ({shadow_weight:g}) relative to the production variant's "
            f"({weight:g}) copies {percent:.4g}% of the requests; the sampling percentage is 1 to 100 "
            "(sandbox: the stricter reading of what the API reference leaves unsaid)."
        )


def _update_endpoint_response(self: SageMakerResponse) -> ActionResult:
    arn = self.sagemaker_backend.update_endpoint(  # type: ignore[attr-defined]
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
        retain_all_variant_properties=self._get_param("RetainAllVariantProperties", False),
    )
    return ActionResult({"EndpointArn": arn})


def _create_endpoint_config_response(sim: EndpointSimulator, self: SageMakerResponse) -> ActionResult:
    """moto keeps four fields of a config; the request is kept whole for DescribeEndpointConfig."""
    params: dict[str, Any] = dict(self._get_params())
    backend: Any = self.sagemaker_backend  # given None for absent fields, as moto's own response does
    config = backend.create_endpoint_config(
        endpoint_config_name=params["EndpointConfigName"],
        async_inference_config=params.get("AsyncInferenceConfig"),
        production_variants=params.get("ProductionVariants"),
        data_capture_config=params.get("DataCaptureConfig"),
        tags=params.get("Tags"),
        kms_key_id=params.get("KmsKeyId"),
        shadow_production_variants=params.get("ShadowProductionVariants"),
    )
    sim.configs[params["EndpointConfigName"]] = params
    return ActionResult({"EndpointConfigArn": config.endpoint_config_arn})
