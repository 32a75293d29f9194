"""Actions: what the shell must do, in order (decide() returns them; the shell runs them)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from .alarm_spec import CandidateAlarms
from .canary_models import RunSmokeTest
from .variants import AutoscalingSnapshot, BaselineConfig, VariantSpec


class CreateModel(BaseModel):
    kind: Literal["CreateModel"] = "CreateModel"
    model_name: str
    model_package_arn: str


class CreateEndpointConfig(BaseModel):
    kind: Literal["CreateEndpointConfig"] = "CreateEndpointConfig"
    config_name: str
    variants: list[tuple[VariantSpec, int]]  # spec and initial weight (percent)
    # ShadowProductionVariants: spec and initial weight, relative to the production variant's
    # (the sampling percentage when the production variant is at 100; shadow.py).
    shadow_variants: list[tuple[VariantSpec, int]] = Field(default_factory=list)
    baseline_config: BaselineConfig = BaselineConfig()  # config-level fields and tags carried over


class CreateEndpoint(BaseModel):
    kind: Literal["CreateEndpoint"] = "CreateEndpoint"
    endpoint_name: str
    config_name: str


class UpdateEndpoint(BaseModel):
    kind: Literal["UpdateEndpoint"] = "UpdateEndpoint"
    endpoint_name: str
    config_name: str


class UpdateWeights(BaseModel):
    kind: Literal["UpdateWeights"] = "UpdateWeights"
    endpoint_name: str
    weights: dict[str, int]


class UpdateCapacity(BaseModel):
    """UpdateEndpointWeightsAndCapacities with DesiredInstanceCount for one variant (before its weight)."""

    kind: Literal["UpdateCapacity"] = "UpdateCapacity"
    endpoint_name: str
    variant_name: str
    instance_count: int


class DeleteEndpoint(BaseModel):
    kind: Literal["DeleteEndpoint"] = "DeleteEndpoint"
    endpoint_name: str


class DeleteEndpointConfig(BaseModel):
    kind: Literal["DeleteEndpointConfig"] = "DeleteEndpointConfig"
    config_name: str


class DeleteModel(BaseModel):
    kind: Literal["DeleteModel"] = "DeleteModel"
    model_name: str


class SuspendAutoscaling(BaseModel):
    """Delete the variant's scaling policies and deregister it (before removing it)."""

    kind: Literal["SuspendAutoscaling"] = "SuspendAutoscaling"
    endpoint_name: str
    variant_name: str


class ApplyAutoscaling(BaseModel):
    """Register the variant as a scalable target and put the snapshot's policies on it."""

    kind: Literal["ApplyAutoscaling"] = "ApplyAutoscaling"
    endpoint_name: str
    variant_name: str
    snapshot: AutoscalingSnapshot


class PruneOldModels(BaseModel):
    """Delete this tool's models/configs for the endpoint beyond the newest `keep`."""

    kind: Literal["PruneOldModels"] = "PruneOldModels"
    endpoint_name: str
    keep: int
    in_use: list[str]
    async_endpoint_name: str | None = None  # its configs are pruned the same way


class UpdateAsyncEndpoint(BaseModel):
    """Put the promoted model on the target's async endpoint, all at once (no weights there)."""

    kind: Literal["UpdateAsyncEndpoint"] = "UpdateAsyncEndpoint"
    endpoint_name: str
    config_name: str
    model_name: str
    instance_type: str
    instance_count: int


class PutCandidateAlarms(BaseModel):
    """PutMetricAlarm for each of the candidate variant's own alarms (idempotent)."""

    kind: Literal["PutCandidateAlarms"] = "PutCandidateAlarms"
    endpoint_name: str
    variant_name: str
    alarms: dict[str, str]  # metric (CandidateMetric) -> alarm name
    spec: CandidateAlarms
    # Put again because one was found missing: its failure changes nothing (the next decision
    # puts them again; a missing alarm holds the step meanwhile). A failure when the candidate
    # joins (before the endpoint is touched) ends the rollout: it must not run unguarded.
    repair: bool = False


class DeleteCandidateAlarms(BaseModel):
    """DeleteAlarms for those of ``names`` that exist."""

    kind: Literal["DeleteCandidateAlarms"] = "DeleteCandidateAlarms"
    names: list[str]


Action = Annotated[
    CreateModel
    | CreateEndpointConfig
    | CreateEndpoint
    | UpdateEndpoint
    | UpdateWeights
    | UpdateCapacity
    | DeleteEndpoint
    | DeleteEndpointConfig
    | DeleteModel
    | SuspendAutoscaling
    | ApplyAutoscaling
    | PruneOldModels
    | UpdateAsyncEndpoint
    | PutCandidateAlarms
    | DeleteCandidateAlarms
    | RunSmokeTest,
    Field(discriminator="kind"),
]
