"""Domain schemas: rollouts and observations (pydantic). Targets and plans: target_models.py; actions:
actions.py; variants: variants.py (all re-exported here)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .actions import (
    Action,
    ApplyAutoscaling,
    CreateEndpoint,
    CreateEndpointConfig,
    CreateModel,
    DeleteCandidateAlarms,
    DeleteEndpoint,
    DeleteEndpointConfig,
    DeleteModel,
    PruneOldModels,
    PutCandidateAlarms,
    SuspendAutoscaling,
    UpdateAsyncEndpoint,
    UpdateCapacity,
    UpdateEndpoint,
    UpdateWeights,
)
from .canary_models import AnalysisReport, MetricData, ShadowRecord, SmokeTestRecord
from .target_models import (
    NAME_PATTERN,
    TARGET_MAX_BYTES,
    AlarmState,
    Gate,
    InferenceSettings,
    InsufficientData,
    RolloutPlan,
    Target,
)
from .variants import AutoscalingSnapshot, BaselineConfig, VariantSpec

# Re-exported: the rest of the code imports every schema from here.
__all__ = [
    "NAME_PATTERN",
    "TARGET_MAX_BYTES",
    "Action",
    "AlarmState",
    "ApplyAutoscaling",
    "AutoscalingSnapshot",
    "BaselineConfig",
    "CreateEndpoint",
    "CreateEndpointConfig",
    "CreateModel",
    "DeleteCandidateAlarms",
    "DeleteEndpoint",
    "DeleteEndpointConfig",
    "DeleteModel",
    "Gate",
    "InferenceSettings",
    "InsufficientData",
    "PruneOldModels",
    "PutCandidateAlarms",
    "RolloutPlan",
    "SuspendAutoscaling",
    "Target",
    "UpdateAsyncEndpoint",
    "UpdateCapacity",
    "UpdateEndpoint",
    "UpdateWeights",
    "VariantSpec",
]


class Phase(StrEnum):
    PENDING = "PENDING"  # recorded, waiting for its turn on the endpoint
    SHADOWING = "SHADOWING"  # the candidate as the shadow variant: mirrored requests, answers no one
    PROVISIONING = "PROVISIONING"  # endpoint being created/updated to hold the candidate
    SHIFTING = "SHIFTING"  # weights being moved to the current step
    BAKING = "BAKING"  # weights at the current step, watching alarms for the bake time
    PROMOTING = "PROMOTING"  # endpoint being updated to the candidate alone
    ROLLING_BACK = "ROLLING_BACK"  # traffic going back to the baseline, candidate leaving
    SUCCEEDED = "SUCCEEDED"
    ROLLED_BACK = "ROLLED_BACK"
    FAILED = "FAILED"
    ABORTED = "ABORTED"
    SUPERSEDED = "SUPERSEDED"
    WAITING = "WAITING"  # recorded, soaking upstream or at a manual gate (rollout_core/promotion.py)

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_PHASES


TERMINAL_PHASES = frozenset({Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.FAILED, Phase.ABORTED, Phase.SUPERSEDED})
# Where a ROLLING_BACK rollout may end.
ROLLBACK_OUTCOMES = frozenset({Phase.ROLLED_BACK, Phase.FAILED, Phase.ABORTED, Phase.SUPERSEDED})


class EndpointView(BaseModel):
    """What DescribeEndpoint says now."""

    model_config = ConfigDict(frozen=True)

    status: str  # DescribeEndpoint EndpointStatus: InService, Updating, Creating, Failed, ...
    config_name: str
    weights: dict[str, float]  # variant name -> CurrentWeight (relative, as SageMaker keeps it)
    last_modified: datetime
    failure_reason: str | None = None
    instances: dict[str, int] = Field(default_factory=dict)  # variant name -> CurrentInstanceCount
    # DescribeEndpoint ShadowProductionVariants: shadow variant name -> CurrentInstanceCount.
    # A shadow takes no share of the traffic: it is never in ``weights``.
    shadows: dict[str, int] = Field(default_factory=dict)

    @property
    def percentages(self) -> dict[str, int]:
        """Variant weights as whole percentages of traffic."""
        total = sum(self.weights.values())
        if total <= 0:
            return dict.fromkeys(self.weights, 0)
        return {name: round(100 * w / total) for name, w in self.weights.items()}


class InstanceQuota(BaseModel):
    """One instance type's endpoint quota (Service Quotas) and what the account runs of it."""

    model_config = ConfigDict(frozen=True)

    instance_type: str
    quota: int  # the applied value of "<type> for endpoint usage"
    in_use: int  # instances of this type the account's endpoints run now
    quota_code: str = ""  # e.g. L-1234ABCD: what a quota increase request names


class Observations(BaseModel):
    """Everything decide() needs to know about the world, gathered by the shell."""

    model_config = ConfigDict(frozen=True)

    endpoint: EndpointView | None  # None: the endpoint does not exist
    alarms: dict[str, AlarmState] = Field(default_factory=dict)
    alarm_reasons: dict[str, str] = Field(default_factory=dict)  # CloudWatch StateReason per alarm
    alarm_since: dict[str, datetime] = Field(default_factory=dict)  # when each alarm entered its state
    # Only gathered for a PENDING rollout:
    serving_variant: VariantSpec | None = None  # the variant of the current config taking traffic
    autoscaling: AutoscalingSnapshot | None = None  # of that variant
    baseline_config: BaselineConfig | None = None  # the rest of the serving config, to carry over
    unsupported: str | None = None  # why this tool cannot roll out onto the endpoint as it is
    predecessor_live: bool = False  # a superseded rollout on the endpoint is still winding down
    quotas: dict[str, InstanceQuota] = Field(default_factory=dict)  # per instance type the rollout needs
    quota_warnings: list[str] = Field(default_factory=list)  # quota reads that failed (the rollout tries)
    # Gathered when an endpoint change failed: the candidate container's last relevant log lines.
    container_log: list[str] = Field(default_factory=list)
    # Judging the candidate (issue 12), gathered by a shell that can judge (the controller):
    judging: bool = False  # the shell can run a smoke test (RunSmokeTest) and read metrics
    metrics: MetricData | None = None  # a BAKING rollout's analysis window; None: not read

    def summary(self) -> dict[str, Any]:
        """Compact form kept in history: why a decision was made."""
        endpoint = None
        if self.endpoint is not None:
            endpoint = {
                "status": self.endpoint.status,
                "config": self.endpoint.config_name,
                "weights": self.endpoint.percentages,
            }
        return {"endpoint": endpoint, "alarms": {k: v.value for k, v in self.alarms.items()}}


class Notification(BaseModel):
    """A milestone to announce: an SNS message and a custom EventBridge event."""

    milestone: str  # started, step_advanced, paused, resumed, promote_requested, succeeded, ...
    detail_type: str  # EventBridge detail-type, e.g. "Rollout Succeeded"
    subject: str
    message: str
    detail: dict[str, Any] = Field(default_factory=dict)
    resources: list[str] = Field(default_factory=list)


# --- the rollout record --------------------------------------------------------------------


class HistoryEntry(BaseModel):
    at: datetime
    phase: Phase
    step: int
    event: str
    reason: str
    observations: dict[str, Any] = Field(default_factory=dict)
    actions: list[str] = Field(default_factory=list)


Trigger = Literal["approval", "promotion", "manual"]


class Promotion(BaseModel):
    """A rollout recorded WAITING: where it comes from and what it waits for (promotion.py)."""

    model_config = ConfigDict(extra="forbid")

    upstream: str | None = None  # the environment it follows; None: a registry approval at a manual gate
    upstream_rollout_id: str | None = None
    upstream_account: str | None = None
    # When the package reached 100 % upstream (its Rollout Succeeded), or was approved.
    reached_at: datetime
    # The upstream's guard alarms: one going to ALARM during the soak cancels it.
    upstream_alarms: list[str] = Field(default_factory=list)
    soak_until: datetime | None = None  # None: no soak
    soaked_at: datetime | None = None  # when the soak ended with nothing wrong upstream
    gate: Gate = Gate.AUTO
    approved_by: str | None = None  # the operator who approved a manual gate (IAM identity)
    approved_at: datetime | None = None
    released_at: datetime | None = None  # when it left WAITING for the endpoint


class Rollout(BaseModel):
    """One model package version going onto one endpoint. Stored as one DynamoDB item."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 4  # of this document as stored (documents.py reads older and newer ones)
    rollout_id: str
    endpoint_name: str
    model_package_arn: str
    model_package_group: str
    target: Target
    phase: Phase = Phase.PENDING
    outcome: Phase | None = None  # where ROLLING_BACK ends
    step_index: int = -1  # index in target.plan.steps; -1 before the first shift
    baseline: VariantSpec | None = None  # None: a first deployment (no endpoint before)
    candidate: VariantSpec
    desired_config: str | None = None  # the endpoint config this rollout wants served now
    desired_weights: dict[str, int] = Field(default_factory=dict)
    # When the pending endpoint change was sent; None: not sent, or refused (not accepted).
    requested_at: datetime | None = None
    retry_after: datetime | None = None  # a refused request is sent again no sooner than this
    attempts: int = 0  # requests of the current endpoint change that did not take effect
    failure_seen: str | None = None  # the endpoint's FailureReason when the change was sent
    # Config name -> since when a model/config it needs, just created, is not visible yet.
    missing_since: dict[str, datetime] = Field(default_factory=dict)
    stuck_since: datetime | None = None  # the endpoint cannot take the way back (Failed, ...), since
    baseline_config: BaselineConfig = BaselineConfig()  # the serving config's fields, carried over
    full_capacity: int | None = None  # most baseline instances seen serving (its count at 100 %)
    desired_instances: dict[str, int] = Field(default_factory=dict)  # capacity asked for, per variant
    step_started_at: datetime | None = None
    autoscaling: AutoscalingSnapshot | None = None
    autoscaling_suspended: bool = False
    predecessor_id: str | None = None
    approved_at: datetime | None = None  # when the registry recorded the approval it rolls out
    reason: str = ""
    # Clean-up and hand-over actions of a finished rollout, kept until they are carried out
    # so that a crash right after the final write cannot orphan anything.
    finishing: list[Action] = Field(default_factory=list)
    outbox: list[Notification] = Field(default_factory=list)  # milestones not yet announced
    paused: bool = False  # an operator holds the rollout at its current weights
    paused_at: datetime | None = None  # since when it is paused
    paused_seconds: float = 0  # time paused before, not counted toward max_duration_seconds
    undone_errors: int = 0  # errors on the way back or in clean-up so far (bounded: errors.py)
    needs_attention: str | None = None  # what is left to do by hand, when the tool gave up
    fast_forward: bool = False  # an operator asked to skip to 100 % (the final bake still runs)
    rollback_started_at: datetime | None = None
    # The candidate variant's own guard alarms (metric -> alarm name), made when it joins and
    # deleted among the finishing actions; empty for a first deployment.
    candidate_alarms: dict[str, str] = Field(default_factory=dict)
    # "<type>: <SageMaker's words>" for each instance type SageMaker refused the candidate with
    # ResourceLimitExceeded (fallbacks.py); the configs of the n-th type are named with n.
    refused_types: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    version: int = 0
    history: list[HistoryEntry] = Field(default_factory=list)
    # What started it: a registry approval, an upstream environment's success, or an operator
    # (downstream environments follow only the first two).
    trigger: Trigger = "approval"
    promotion: Promotion | None = None  # where a WAITING rollout comes from and what it waits for
    # Judging the candidate (issue 12: smoke.py, analysis.py)
    smoke_test: SmokeTestRecord | None = None  # the smoke test before the first shift
    analysis: AnalysisReport | None = None  # the latest canary analysis of a bake
    shadow: ShadowRecord | None = None  # issue 13: the shadow phase (shadow.py)

    @model_validator(mode="after")
    def _outcome_only_when_rolling_back(self) -> Rollout:
        if self.phase is Phase.ROLLING_BACK and self.outcome not in ROLLBACK_OUTCOMES:
            raise ValueError("a ROLLING_BACK rollout needs an outcome")
        return self

    @property
    def live(self) -> bool:
        return not self.phase.terminal

    @property
    def settled(self) -> bool:
        """Finished, and everything it had to do (clean-up, announcements) is done."""
        return self.phase.terminal and not self.finishing and not self.outbox

    @property
    def guard_alarm_names(self) -> list[str]:
        """Every alarm guarding this rollout: the target's and the candidate's own."""
        return [*self.target.guard_alarms, *self.candidate_alarms.values()]

    @property
    def first_deployment(self) -> bool:
        return self.baseline is None

    @property
    def type_attempt(self) -> int:
        """How many instance types SageMaker refused before the candidate's (config names use it)."""
        return len(self.refused_types)

    @property
    def current_step_percent(self) -> int:
        return self.target.plan.steps[self.step_index] if self.step_index >= 0 else 0
