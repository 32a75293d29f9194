"""SageMaker: observe an endpoint and carry out endpoint actions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .. import naming
from ..models import (
    Action,
    BaselineConfig,
    CreateEndpoint,
    CreateEndpointConfig,
    CreateModel,
    DeleteEndpoint,
    DeleteEndpointConfig,
    DeleteModel,
    EndpointView,
    PruneOldModels,
    UpdateAsyncEndpoint,
    UpdateCapacity,
    UpdateEndpoint,
    UpdateWeights,
    VariantSpec,
)
from .clients import error_code

TAG_KEY = "sagemaker-rollout:managed"
# Fields the rollout sets itself in every config it makes (the rest is carried over).
_CONFIG_OWN_KEYS = frozenset({"EndpointConfigName", "ProductionVariants", "Tags", "ShadowProductionVariants"})
_VARIANT_SPEC_KEYS = frozenset(
    {"VariantName", "ModelName", "InstanceType", "InitialInstanceCount", "InitialVariantWeight"}
)


@dataclass(frozen=True)
class Baseline:
    """The serving variant and the rest of its config, or why the endpoint cannot be rolled out."""

    variant: VariantSpec | None = None
    config: BaselineConfig | None = None
    unsupported: str | None = None


class RetryLater(Exception):
    """The action cannot be carried out yet (e.g. the endpoint is Updating); try on the next tick."""

    code = "RetryLater"


@dataclass(frozen=True)
class AsyncSettings:
    """Where async endpoints managed by this tool write results and announce them."""

    output_s3_uri: str
    failure_s3_uri: str
    success_topic_arn: str
    error_topic_arn: str


def _variant(spec: VariantSpec, weight: int) -> dict[str, Any]:
    """A ProductionVariant of CreateEndpointConfig (production or shadow)."""
    return {
        **spec.settings,
        "VariantName": spec.variant_name,
        "ModelName": spec.model_name,
        "InstanceType": spec.instance_type,
        "InitialInstanceCount": spec.instance_count,
        "InitialVariantWeight": float(weight),
    }


def _missing(exc: ClientError) -> bool:
    code, message = error_code(exc)
    return code in ("ValidationException", "ResourceNotFound") and "could not find" in message.lower()


def _already_exists(exc: ClientError) -> bool:
    code, message = error_code(exc)
    return code == "ValidationException" and "already exist" in message.lower()


class SageMakerGateway:
    """Thin wrapper over the SageMaker client, in the core's terms."""

    def __init__(self, client: Any, execution_role_arn: str, async_settings: AsyncSettings | None = None) -> None:
        self._sm = client
        self._role = execution_role_arn
        self._async = async_settings
        # What CreateEndpointConfig accepts, from the client's own service model (botocore), so
        # that every field a config has is carried over, including ones added after this code.
        model = client.meta.service_model
        self._config_fields = frozenset(model.operation_model("CreateEndpointConfig").input_shape.members)
        self._variant_fields = frozenset(model.shape_for("ProductionVariant").members)

    # --- observing ----------------------------------------------------------------------

    def approval_status(self, model_package_arn: str) -> str:
        """The package's ModelApprovalStatus as the Model Registry holds it now (events can be stale)."""
        return str(self.describe_package(model_package_arn).get("ModelApprovalStatus", ""))

    def describe_endpoint(self, endpoint_name: str) -> dict[str, Any] | None:
        try:
            return dict(self._sm.describe_endpoint(EndpointName=endpoint_name))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise

    def describe_package(self, model_package_arn: str) -> dict[str, Any]:
        return dict(self._sm.describe_model_package(ModelPackageName=model_package_arn))

    @staticmethod
    def view(described: dict[str, Any]) -> EndpointView:
        variants = described.get("ProductionVariants", [])
        weights = {
            v["VariantName"]: float(v.get("CurrentWeight", v.get("DesiredWeight", 0.0)) or 0.0) for v in variants
        }
        instances = {
            v["VariantName"]: int(v.get("CurrentInstanceCount", v.get("DesiredInstanceCount", 0)) or 0)
            for v in variants
            if "CurrentInstanceCount" in v or "DesiredInstanceCount" in v
        }
        # DescribeEndpoint ShadowProductionVariants: "one for each model that you want to host at
        # this endpoint in shadow mode" (ProductionVariantSummary, as the production ones).
        shadows = {
            v["VariantName"]: int(v.get("CurrentInstanceCount", v.get("DesiredInstanceCount", 0)) or 0)
            for v in described.get("ShadowProductionVariants", [])
        }
        return EndpointView(
            status=described["EndpointStatus"],
            config_name=described["EndpointConfigName"],
            weights=weights,
            last_modified=described["LastModifiedTime"],
            failure_reason=described.get("FailureReason") or None,
            instances=instances,
            shadows=shadows,
        )

    def observe(self, endpoint_name: str) -> EndpointView | None:
        described = self.describe_endpoint(endpoint_name)
        return None if described is None else self.view(described)

    def serving_variant(self, described: dict[str, Any]) -> VariantSpec | None:
        """The variant taking the most traffic, with its model and instances (batch jobs use its model)."""
        variants = described.get("ProductionVariants", [])
        if not variants:
            return None
        top = max(variants, key=lambda v: float(v.get("CurrentWeight", 0.0) or 0.0))
        config = self._sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
        for spec in config["ProductionVariants"]:
            if spec["VariantName"] == top["VariantName"] and "InstanceType" in spec and spec.get("ModelName"):
                return VariantSpec(
                    variant_name=spec["VariantName"],
                    model_name=spec["ModelName"],
                    instance_type=spec["InstanceType"],
                    instance_count=int(top.get("CurrentInstanceCount") or spec.get("InitialInstanceCount", 1)),
                )
        return None  # serverless variants and inference components are not served by this tool

    def baseline(self, described: dict[str, Any]) -> Baseline:
        """What serves now, read from the endpoint's current config, and whether it can be
        rolled out: one instance-based production variant with a model, no shadow variant."""
        config = dict(self._sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"]))
        variants = config.get("ProductionVariants", [])
        name = config["EndpointConfigName"]
        if config.get("ShadowProductionVariants"):
            return Baseline(unsupported=f"config {name} has a shadow variant; remove it before a rollout")
        if len(variants) != 1:
            return Baseline(
                unsupported=f"config {name} has {len(variants)} production variants; this tool rolls out "
                "onto an endpoint served by exactly one"
            )
        spec = variants[0]
        if "ServerlessConfig" in spec or "InstanceType" not in spec:
            return Baseline(
                unsupported=f"variant {spec['VariantName']} is serverless; only instance-based variants roll out"
            )
        if not spec.get("ModelName"):
            return Baseline(
                unsupported=f"variant {spec['VariantName']} has no model: an endpoint of inference components "
                "cannot be rolled out by this tool"
            )
        live: dict[str, Any] = next(
            (v for v in described.get("ProductionVariants", []) if v["VariantName"] == spec["VariantName"]), {}
        )
        variant = VariantSpec(
            variant_name=spec["VariantName"],
            model_name=spec["ModelName"],
            instance_type=spec["InstanceType"],
            # What serves now: autoscaling may have changed the config's initial count.
            instance_count=int(live.get("CurrentInstanceCount") or spec.get("InitialInstanceCount", 1)),
            settings={k: v for k, v in spec.items() if k in self._variant_fields and k not in _VARIANT_SPEC_KEYS},
        )
        settings = {k: v for k, v in config.items() if k in self._config_fields and k not in _CONFIG_OWN_KEYS}
        tags = self._sm.list_tags(ResourceArn=config["EndpointConfigArn"]).get("Tags", [])
        tags = [t for t in tags if t["Key"] != TAG_KEY and not t["Key"].startswith("aws:")]
        return Baseline(variant=variant, config=BaselineConfig(settings=settings, tags=tags))

    # --- acting -------------------------------------------------------------------------

    def execute(self, action: Action, rollout_id: str) -> None:
        tags = [{"Key": TAG_KEY, "Value": rollout_id}]
        if isinstance(action, CreateModel):
            self._create(
                self._sm.create_model,
                ModelName=action.model_name,
                ExecutionRoleArn=self._role,
                PrimaryContainer={"ModelPackageName": action.model_package_arn},
                Tags=tags,
            )
        elif isinstance(action, CreateEndpointConfig):
            carried = action.baseline_config
            shadows: dict[str, Any] = {}
            if action.shadow_variants:
                # API reference, CreateEndpointConfig: "If you use this field, you can only specify
                # one variant for ProductionVariants and one variant for ShadowProductionVariants".
                shadows["ShadowProductionVariants"] = [_variant(s, w) for s, w in action.shadow_variants]
            self._create(
                self._sm.create_endpoint_config,
                EndpointConfigName=action.config_name,
                ProductionVariants=[_variant(spec, weight) for spec, weight in action.variants],
                Tags=[*carried.tags, *tags],
                **shadows,
                **carried.settings,
            )
        elif isinstance(action, CreateEndpoint):
            self._create(
                self._sm.create_endpoint,
                EndpointName=action.endpoint_name,
                EndpointConfigName=action.config_name,
                Tags=tags,
            )
        elif isinstance(action, UpdateEndpoint):
            # Variants the endpoint keeps (the baseline while the candidate joins or leaves) keep
            # their live instance count and weight: without this, UpdateEndpoint sets them from
            # the config (RetainAllVariantProperties defaults to false), undoing autoscaling.
            self._sm.update_endpoint(
                EndpointName=action.endpoint_name,
                EndpointConfigName=action.config_name,
                RetainAllVariantProperties=True,
            )
        elif isinstance(action, UpdateWeights):
            self._sm.update_endpoint_weights_and_capacities(
                EndpointName=action.endpoint_name,
                DesiredWeightsAndCapacities=[
                    {"VariantName": name, "DesiredWeight": float(weight)} for name, weight in action.weights.items()
                ],
            )
        elif isinstance(action, UpdateCapacity):
            self._sm.update_endpoint_weights_and_capacities(
                EndpointName=action.endpoint_name,
                DesiredWeightsAndCapacities=[
                    {"VariantName": action.variant_name, "DesiredInstanceCount": action.instance_count}
                ],
            )
        elif isinstance(action, DeleteEndpoint):
            self._delete(self._sm.delete_endpoint, EndpointName=action.endpoint_name)
        elif isinstance(action, DeleteEndpointConfig):
            self._delete(self._sm.delete_endpoint_config, EndpointConfigName=action.config_name)
        elif isinstance(action, DeleteModel):
            self._delete(self._sm.delete_model, ModelName=action.model_name)
        elif isinstance(action, PruneOldModels):
            self.prune(action)
        elif isinstance(action, UpdateAsyncEndpoint):
            self.update_async_endpoint(action, tags)
        else:  # pragma: no cover - the service routes other actions elsewhere
            raise TypeError(f"not a SageMaker action: {action.kind}")

    def update_async_endpoint(self, action: UpdateAsyncEndpoint, tags: list[dict[str, str]]) -> None:
        """Config with AsyncInferenceConfig for the promoted model; Create or UpdateEndpoint."""
        if self._async is None:
            raise RetryLater("async inference settings are not configured for this function")
        self._create(
            self._sm.create_endpoint_config,
            EndpointConfigName=action.config_name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": action.model_name,
                    "InstanceType": action.instance_type,
                    "InitialInstanceCount": action.instance_count,
                    "InitialVariantWeight": 1.0,
                }
            ],
            AsyncInferenceConfig={
                "OutputConfig": {
                    "S3OutputPath": self._async.output_s3_uri,
                    "S3FailurePath": self._async.failure_s3_uri,
                    "NotificationConfig": {
                        "SuccessTopic": self._async.success_topic_arn,
                        "ErrorTopic": self._async.error_topic_arn,
                    },
                }
            },
            Tags=tags,
        )
        described = self.describe_endpoint(action.endpoint_name)
        if described is None:
            self._create(
                self._sm.create_endpoint,
                EndpointName=action.endpoint_name,
                EndpointConfigName=action.config_name,
                Tags=tags,
            )
        elif described["EndpointConfigName"] == action.config_name:
            return  # already there (or on its way)
        elif described["EndpointStatus"] == "InService":
            self._sm.update_endpoint(EndpointName=action.endpoint_name, EndpointConfigName=action.config_name)
        else:
            raise RetryLater(f"async endpoint {action.endpoint_name} is {described['EndpointStatus']}")

    def prune(self, action: PruneOldModels) -> None:
        """Keep the newest ``keep`` models (and configs) this tool made for the endpoint."""
        keep = set(action.in_use)
        models = self._list(
            self._sm.get_paginator("list_models"), "Models", "ModelName", naming.model_prefix(action.endpoint_name)
        )
        for name in models[action.keep :]:
            if name not in keep:
                self._delete(self._sm.delete_model, ModelName=name)
        endpoints = [action.endpoint_name] + ([action.async_endpoint_name] if action.async_endpoint_name else [])
        for endpoint in endpoints:
            configs = self._list(
                self._sm.get_paginator("list_endpoint_configs"),
                "EndpointConfigs",
                "EndpointConfigName",
                naming.config_prefix(endpoint),
            )
            for name in configs[action.keep :]:
                if name not in keep:
                    self._delete(self._sm.delete_endpoint_config, EndpointConfigName=name)

    @staticmethod
    def _list(paginator: Any, key: str, name_key: str, prefix: str) -> list[str]:
        """Names starting with ``prefix``, newest first."""
        found: list[tuple[Any, str]] = []
        for page in paginator.paginate(NameContains=prefix, SortBy="CreationTime", SortOrder="Descending"):
            found += [(item["CreationTime"], item[name_key]) for item in page[key] if item[name_key].startswith(prefix)]
        found.sort(key=lambda pair: pair[0], reverse=True)
        return [name for _, name in found]

    @staticmethod
    def _create(call: Any, **kwargs: Any) -> None:
        try:
            call(**kwargs)
        except ClientError as exc:
            if not _already_exists(exc):
                raise

    @staticmethod
    def _delete(call: Any, **kwargs: Any) -> None:
        try:
            call(**kwargs)
        except ClientError as exc:
            if not _missing(exc):
                raise
