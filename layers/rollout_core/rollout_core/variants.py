"""What a rollout carries of an endpoint's variants: the variant, its autoscaling, the config's other fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .target_models import NAME_PATTERN


class VariantSpec(BaseModel):
    """One production variant: which model on which instances."""

    model_config = ConfigDict(frozen=True)

    variant_name: str = Field(pattern=NAME_PATTERN)
    model_name: str = Field(pattern=NAME_PATTERN)
    instance_type: str
    instance_count: int = Field(ge=1)
    # Every other ProductionVariant field of CreateEndpointConfig, as the variant's config had
    # them (VolumeSizeInGB, ContainerStartupHealthCheckTimeoutInSeconds, RoutingConfig, ...).
    settings: dict[str, Any] = Field(default_factory=dict)


class AutoscalingSnapshot(BaseModel):
    """The baseline variant's Application Auto Scaling target and policies."""

    model_config = ConfigDict(frozen=True)

    variant_name: str = ""  # the variant it was read from (its name in custom metric dimensions)
    min_capacity: int
    max_capacity: int
    policies: list[dict[str, Any]] = Field(default_factory=list)
    # The CloudWatch alarms that drive each step-scaling policy (policy name -> PutMetricAlarm
    # fields); step scaling acts only through alarms whose actions name the policy's ARN.
    alarms: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)


class BaselineConfig(BaseModel):
    """The serving endpoint config's own fields, carried into every config a rollout makes."""

    model_config = ConfigDict(frozen=True)

    # Config-level fields of CreateEndpointConfig as DescribeEndpointConfig returned them
    # (DataCaptureConfig, KmsKeyId, VpcConfig, EnableNetworkIsolation, ...).
    settings: dict[str, Any] = Field(default_factory=dict)
    tags: list[dict[str, str]] = Field(default_factory=list)  # the config's tags (ListTags)
