"""Targets and their plans: where approvals of a model package group roll out, and how (pydantic)."""

from __future__ import annotations

import re
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .alarm_spec import CandidateAlarms
from .canary_models import AnalysisPlan, ShadowPlan, SmokeTestPlan

# SageMaker resource name pattern (models, endpoints, endpoint configs, variants).
NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
_NAME_RE = re.compile(NAME_PATTERN)
# The largest target: one SSM Standard-tier parameter value (4 KB).
TARGET_MAX_BYTES = 4096
INSTANCE_TYPE_PATTERN = r"^ml\.[a-z0-9]+\.[a-z0-9]+$"
InstanceType = Annotated[str, Field(pattern=INSTANCE_TYPE_PATTERN)]


class InsufficientData(StrEnum):
    """What an alarm in INSUFFICIENT_DATA means for a bake step."""

    HOLD = "HOLD"  # do not advance until the alarm has data and is OK
    OK = "OK"  # treat as OK


class AlarmState(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


def _split_csv(value: Any) -> Any:
    """Accept "a,b,c" (as CloudFormation parameters give them) as well as lists."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class RolloutPlan(BaseModel):
    """How traffic moves to the candidate: percentages per step, bake time, limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: list[int] = Field(default=[10, 25, 50, 100], min_length=1)
    bake_seconds: int = Field(default=600, ge=0, le=7 * 24 * 3600)
    insufficient_data: InsufficientData = InsufficientData.HOLD
    max_duration_seconds: int = Field(default=6 * 3600, ge=60)
    # Judging the candidate (issue 12: smoke.py, analysis.py)
    smoke_test: SmokeTestPlan = SmokeTestPlan()
    analysis: AnalysisPlan = AnalysisPlan()
    shadow: ShadowPlan | None = None  # issue 13: a shadow phase before the first step (shadow.py)

    _split_steps = field_validator("steps", mode="before")(_split_csv)

    @field_validator("steps")
    @classmethod
    def _steps_rise_to_100(cls, steps: list[int]) -> list[int]:
        if any(not 0 < s <= 100 for s in steps):
            raise ValueError("every step is a traffic percentage in 1..100")
        if any(b <= a for a, b in pairwise(steps)):
            raise ValueError("steps must be strictly increasing")
        if steps[-1] != 100:
            raise ValueError("the last step must be 100")
        return steps

    @model_validator(mode="after")
    def _shadow_fits(self) -> RolloutPlan:
        if self.shadow is not None and self.shadow.duration_seconds >= self.max_duration_seconds:
            raise ValueError("shadow.duration_seconds must be shorter than max_duration_seconds")
        return self


class InferenceSettings(BaseModel):
    """How the job path (async inference and batch transform) serves a target's model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # An endpoint with AsyncInferenceConfig kept on the promoted model; None: batch only.
    async_endpoint_name: str | None = Field(default=None, pattern=NAME_PATTERN, max_length=40)
    async_instance_type: str | None = Field(default=None, pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    async_instance_count: int = Field(default=1, ge=1, le=100)
    transform_instance_type: str | None = Field(default=None, pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    transform_instance_count: int = Field(default=1, ge=1, le=100)
    max_payload_mb: int = Field(default=6, ge=1, le=100)  # CreateTransformJob MaxPayloadInMB
    job_timeout_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)

    @field_validator("async_endpoint_name", "async_instance_type", "transform_instance_type", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        # CloudFormation parameters cannot be null: "" means "not set".
        return None if value == "" else value


class Gate(StrEnum):
    """Who starts a rollout that reached its environment: by itself, or an operator."""

    AUTO = "auto"
    MANUAL = "manual"


REGISTRY = "registry"
AFTER = "after:"
SOURCE_PATTERN = r"^(registry|after:[a-z0-9](-*[a-z0-9]){0,62})$"


class Target(BaseModel):
    """Where approvals of one model package group roll out, and how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_package_group: str = Field(min_length=1, max_length=63)
    endpoint_name: str = Field(pattern=NAME_PATTERN, max_length=40)
    instance_type: InstanceType
    instance_count: int = Field(default=1, ge=1, le=100)
    # Tried in order when the candidate's instance type does not fit the account's endpoint
    # quota (the quota pre-flight, fallbacks.py); the same count and capacity_ratio apply.
    instance_type_fallbacks: list[InstanceType] = Field(default_factory=list, max_length=5)
    plan: RolloutPlan = RolloutPlan()
    guard_alarms: list[str] = Field(default_factory=list, max_length=100)
    retain_models: int = Field(default=3, ge=1, le=50)
    inference: InferenceSettings = InferenceSettings()
    # Candidate instances needed per baseline instance for the same traffic: 1.0 when both run
    # the same instance type; e.g. 0.5 when the candidate's type serves twice as much.
    capacity_ratio: float = Field(default=1.0, gt=0, le=10)
    # Alarms on the candidate variant's own metrics. None: the 5XX and latency ones when the
    # target has no guard alarm at all, none otherwise; {"metrics": []}: none at all.
    candidate_alarms: CandidateAlarms | None = None
    # Where this target's rollouts come from, and what they wait for (rollout_core/promotion.py):
    # "registry" (Model Registry approvals) or "after:<environment>" (that environment's stack
    # announcing Rollout Succeeded for a package of this group).
    source: str = Field(default=REGISTRY, pattern=SOURCE_PATTERN)
    soak_seconds: int = Field(default=0, ge=0, le=30 * 24 * 3600)  # served 100 % upstream this long first
    gate: Gate = Gate.AUTO  # manual: an operator approves the start (POST /v1/rollouts/{id}/approve)

    _split_alarms = field_validator("guard_alarms", mode="before")(_split_csv)
    _split_fallbacks = field_validator("instance_type_fallbacks", mode="before")(_split_csv)

    @model_validator(mode="after")
    def _fallbacks_are_other_types(self) -> Target:
        types = [self.instance_type, *self.instance_type_fallbacks]
        if len(set(types)) != len(types):
            raise ValueError("instance_type_fallbacks: each type once, and not the target's instance_type")
        return self

    @model_validator(mode="after")
    def _soak_needs_an_upstream(self) -> Target:
        if self.soak_seconds and self.upstream is None:
            raise ValueError("soak_seconds needs an upstream environment (source: after:<environment>)")
        return self

    @property
    def upstream(self) -> str | None:
        """The environment this target follows, or None when it follows the Model Registry."""
        return self.source.removeprefix(AFTER) if self.source.startswith(AFTER) else None

    @property
    def waits(self) -> bool:
        """Its rollouts are recorded WAITING first (a soak, a manual gate, or an upstream to follow)."""
        return self.upstream is not None or self.gate is Gate.MANUAL

    @property
    def candidate_alarm_spec(self) -> CandidateAlarms | None:
        """The candidate alarms this target gets (see ``candidate_alarms``); None: none."""
        spec = self.candidate_alarms
        if spec is None:
            return None if self.guard_alarms else CandidateAlarms()
        return spec if spec.metrics else None

    @model_validator(mode="after")
    def _fits_a_standard_parameter(self) -> Target:
        # A target is one SSM parameter: "Standard parameters have a value limit of 4 KB"
        # (PutParameter API reference). The template's parameters keep its own within that.
        # Counted without the fields left at their defaults (a document need not spell them).
        size = len(self.model_dump_json(exclude_defaults=True).encode())
        if size > TARGET_MAX_BYTES:
            raise ValueError(
                f"the target is {size} bytes as JSON; an SSM Standard-tier parameter holds at most "
                f"{TARGET_MAX_BYTES}: use fewer or shorter guard alarm names"
            )
        return self
