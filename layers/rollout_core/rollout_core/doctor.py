"""`doctor ENDPOINT`: what is likely to hurt an endpoint, from facts read beforehand (pure).

The data access (reading the facts) is separate; this module only judges them. Each finding has
a severity and a one-line fix; a HIGH finding makes the CLI exit non-zero.

Thresholds (the stricter reading where AWS gives no number):
- quota: the next rollout's peak (preflight.peak_need) past the quota left is HIGH; a peak
  that uses the last instance of it is LOW;
- autoscaling: a ScaleInCooldown over 600 s is MEDIUM (Application Auto Scaling's SageMaker
  examples use 300 s or less); MinCapacity equal to MaxCapacity is MEDIUM (it never scales);
  a step scaling policy no alarm invokes is MEDIUM (it never runs: "a step scaling policy
  ... is invoked by a CloudWatch alarm"); a variant without a scalable target is LOW;
- guard alarms: one that does not exist is HIGH (a rollout would hold or ignore it); one in
  INSUFFICIENT_DATA is MEDIUM (a bake under `insufficient_data: HOLD` never ends);
- a recent failed update is MEDIUM, with SageMaker's reason;
- payloads: a largest request (the inference API's own metric, request_metrics.py) over 80 % of
  the real-time limit (the API's RealtimeLimitBytes, at most InvokeEndpoint's 6 MB) is MEDIUM;
  any 413 of the API in the last day is MEDIUM (use the async or batch route).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel, Field

from .models import AlarmState, InstanceQuota

REALTIME_MAX_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's request payload limit
NEAR_LIMIT = 0.8  # a largest request above this share of the limit is "near" it
LONG_SCALE_IN_COOLDOWN = 600  # seconds


class Severity(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class Finding(BaseModel):
    severity: Severity
    check: str  # quota, autoscaling, guard_alarms, failed_updates, payloads
    message: str
    fix: str  # one line


class ScalingPolicy(BaseModel):
    name: str
    policy_type: str  # TargetTrackingScaling | StepScaling
    scale_in_cooldown: int | None = None  # seconds (target tracking)
    alarms: list[str] = Field(default_factory=list)  # the alarms that invoke it


class VariantScaling(BaseModel):
    variant: str
    registered: bool  # a scalable target exists for the variant
    min_capacity: int = 0
    max_capacity: int = 0
    policies: list[ScalingPolicy] = Field(default_factory=list)


class Facts(BaseModel):
    """What the data-access side read about one endpoint."""

    endpoint: str
    quotas: dict[str, InstanceQuota] = Field(default_factory=dict)  # per instance type
    need: dict[str, int] = Field(default_factory=dict)  # the next rollout's peak per type
    scaling: list[VariantScaling] = Field(default_factory=list)
    guard_alarms: dict[str, AlarmState | None] = Field(default_factory=dict)  # None: does not exist
    failed_updates: list[str] = Field(default_factory=list)  # recent failures, with their reasons
    largest_request_bytes: float | None = None  # the API's own metric, last day
    requests_413: int = 0  # the API's own count, last day
    realtime_limit_bytes: int = REALTIME_MAX_BYTES  # the API's real-time limit (RealtimeLimitBytes)


# What a check finds: (severity, message, one-line fix).
Found = tuple[Severity, str, str]


def diagnose(facts: Facts) -> list[Finding]:
    """Every finding, the most severe first."""
    checks: dict[str, Callable[[Facts], list[Found]]] = {
        "quota": _quota,
        "autoscaling": _autoscaling,
        "guard_alarms": _alarms,
        "failed_updates": _failures,
        "payloads": _payloads,
    }
    found = [
        Finding(severity=severity, check=check, message=message, fix=fix)
        for check, judge in checks.items()
        for severity, message, fix in judge(facts)
    ]
    order = list(Severity)
    return sorted(found, key=lambda f: order.index(f.severity))


def exit_code(findings: list[Finding]) -> int:
    """0, or 1 when any finding is HIGH."""
    return 1 if any(f.severity is Severity.HIGH for f in findings) else 0


def _quota(facts: Facts) -> list[Found]:
    out: list[Found] = []
    for instance_type, need in sorted(facts.need.items()):
        quota = facts.quotas.get(instance_type)
        if quota is None:
            continue
        left = quota.quota - quota.in_use - need
        if left < 0:
            out.append(
                (
                    Severity.HIGH,
                    f"{instance_type}: the next rollout needs {need} more at its peak, {quota.in_use} in use, "
                    f"quota {quota.quota}",
                    f"request '{instance_type} for endpoint usage' of at least {quota.in_use + need} "
                    "in Service Quotas, or set instance_type_fallbacks",
                )
            )
        elif left == 0:
            out.append(
                (
                    Severity.LOW,
                    f"{instance_type}: the next rollout's peak uses the last of quota {quota.quota}",
                    f"request '{instance_type} for endpoint usage' of {quota.quota + 1} or more in Service Quotas",
                )
            )
    return out


def _autoscaling(facts: Facts) -> list[Found]:
    out: list[Found] = []
    for v in facts.scaling:
        if not v.registered:
            out.append(
                (
                    Severity.LOW,
                    f"variant {v.variant} has no autoscaling",
                    "register a scalable target with a target-tracking policy on InvocationsPerInstance",
                )
            )
            continue
        if v.min_capacity == v.max_capacity:
            out.append(
                (
                    Severity.MEDIUM,
                    f"variant {v.variant}: MinCapacity = MaxCapacity = {v.min_capacity}: it never scales",
                    "lower MinCapacity to what off-peak traffic needs",
                )
            )
        for p in v.policies:
            if p.scale_in_cooldown is not None and p.scale_in_cooldown > LONG_SCALE_IN_COOLDOWN:
                out.append(
                    (
                        Severity.MEDIUM,
                        f"variant {v.variant}: policy {p.name} waits {p.scale_in_cooldown}s between "
                        "scale-ins: it hardly scales in",
                        f"set ScaleInCooldown to {LONG_SCALE_IN_COOLDOWN}s or less",
                    )
                )
            if p.policy_type == "StepScaling" and not p.alarms:
                out.append(
                    (
                        Severity.MEDIUM,
                        f"variant {v.variant}: step scaling policy {p.name} has no alarm: it never runs",
                        "create a CloudWatch alarm whose action is the policy's ARN, or delete the policy",
                    )
                )
    return out


def _alarms(facts: Facts) -> list[Found]:
    out: list[Found] = []
    for name, state in sorted(facts.guard_alarms.items()):
        if state is None:
            out.append(
                (
                    Severity.HIGH,
                    f"guard alarm {name} does not exist",
                    "create it, or remove it from the target's guard_alarms",
                )
            )
        elif state is AlarmState.INSUFFICIENT_DATA:
            out.append(
                (
                    Severity.MEDIUM,
                    f"guard alarm {name} is INSUFFICIENT_DATA: a bake under insufficient_data HOLD waits",
                    "check its metric and dimensions, or set TreatMissingData to notBreaching",
                )
            )
    return out


def _failures(facts: Facts) -> list[Found]:
    return [
        (
            Severity.MEDIUM,
            f"a recent update failed: {reason}",
            "see `rollout status` of that rollout for the container's log lines",
        )
        for reason in facts.failed_updates
    ]


def _payloads(facts: Facts) -> list[Found]:
    out: list[Found] = []
    largest = facts.largest_request_bytes
    limit = min(facts.realtime_limit_bytes, REALTIME_MAX_BYTES)
    if largest is not None and largest > NEAR_LIMIT * limit:
        out.append(
            (
                Severity.MEDIUM,
                f"the largest request in the last day was {largest / 1e6:.1f} MB, near the real-time "
                f"limit of {limit / 1e6:.1f} MB",
                "send large payloads to the job route (async inference or batch transform)",
            )
        )
    if facts.requests_413:
        out.append(
            (
                Severity.MEDIUM,
                f"{facts.requests_413} requests got 413 (too large) in the last day",
                "send large payloads to the job route (async inference or batch transform)",
            )
        )
    return out
