"""The fault matrix's scenarios, and the ways EventBridge may deliver their events.

Lean versions of the built-in scenarios (two steps, two-minute bakes, one-minute updates),
plus one whose baseline variant is under Application Auto Scaling (target tracking), so that
a promotion's deregister -> UpdateEndpoint -> register is faulted at every call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rollout_core.models import Phase, Target

# --- scenarios -----------------------------------------------------------------------------------

# ("approve", "v2"), ("reject", "v2"), ("alarm", "ALARM"), ("wait", seconds), ("autoscale", "v1"):
# the variant of v1's rollout is put under Application Auto Scaling (SCALING, SCALING_POLICY, and
# STEP_POLICY with its alarm STEP_ALARM).
Step = tuple[str, Any]


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple[Step, ...]
    expected: dict[str, Phase]  # package label -> final phase without faults
    serving: str | None  # the label serving 100 % at the end (None: no endpoint)
    # A transient fault may keep the endpoint from ever being created (the fault-free run
    # creates it, then deletes it): see test_crash_matrix.check.
    may_never_create: bool = field(default=False, kw_only=True)
    target: Target | None = field(default=None, kw_only=True)  # None: TARGET (same endpoint and group)


ALARM = "sagemaker-rollout-churn-5xx"
TARGET = Target.model_validate(
    {
        "model_package_group": "churn-model",
        "endpoint_name": "churn-endpoint",
        "instance_type": "ml.m5.large",
        "plan": {"steps": [50, 100], "bake_seconds": 120},
        "guard_alarms": [ALARM],
        # issue 17: each candidate gets an alarm of its own (put when it joins, deleted at the end)
        "candidate_alarms": {"metrics": ["5xx"]},
    }
)
# The baseline variant's autoscaling in the "autoscale" step: a target-tracking policy, as the
# Application Auto Scaling docs' SageMaker example ("Define a scaling policy") has it.
SCALING = {"MinCapacity": 1, "MaxCapacity": 3}
SCALING_POLICY = {
    "PolicyName": "invocations-per-instance",
    "PolicyType": "TargetTrackingScaling",
    "TargetTrackingScalingPolicyConfiguration": {
        "TargetValue": 70.0,
        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        "ScaleInCooldown": 300,
        "ScaleOutCooldown": 60,
    },
}
# And a step-scaling policy with the CloudWatch alarm that drives it (its action names the
# policy's ARN: "Step scaling policies for Application Auto Scaling"), so the carry-over of
# step scaling (the alarm recreated for the new variant) is faulted at every call too.
STEP_POLICY = {
    "PolicyName": "scale-out-on-latency",
    "PolicyType": "StepScaling",
    "StepScalingPolicyConfiguration": {
        "AdjustmentType": "ChangeInCapacity",
        "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}],
        "Cooldown": 120,
    },
}
STEP_ALARM = "churn-latency-high"
# Issue 13: TARGET with a one-minute shadow phase first, judged on errors alone (the latency
# check's minimum of three minutes would only lengthen every faulted run).
SHADOW_TARGET = Target.model_validate(
    {
        **TARGET.model_dump(exclude={"plan"}),
        "plan": {
            "steps": [100],  # the canary's steps are the other scenarios'; one keeps these runs short
            "bake_seconds": TARGET.plan.bake_seconds,
            "shadow": {"sampling_percent": 20, "duration_seconds": 60, "checks": {"latency": {"enabled": False}}},
        },
    }
)
# The alarm's scenario: a five-minute shadow, so that the alarm falls in it however late the
# approval is delivered (tests/faults/test_delivery.py: three minutes late, and an alarm older
# than the rollout is stale, ignored).
LONG_SHADOW_TARGET = Target.model_validate(
    {
        **SHADOW_TARGET.model_dump(exclude={"plan"}),
        "plan": {
            **SHADOW_TARGET.plan.model_dump(include={"steps", "bake_seconds", "shadow"}),
            "shadow": {**SHADOW_TARGET.plan.model_dump()["shadow"], "duration_seconds": 300},
        },
    }
)
UPDATE_SECONDS = 60  # how long SageMaker takes per endpoint change here
SETTLE_LIMIT = 90  # minutes of simulated time the harness waits at most for every rollout to settle

# Lean versions of the built-in scenarios (two steps, two-minute bakes, one-minute updates).
SCENARIOS = {
    s.name: s
    for s in (
        Scenario("first_deployment", (("approve", "v1"), ("wait", 120)), {"v1": Phase.SUCCEEDED}, serving="v1"),
        # Rejected while the endpoint is being created: nothing to go back to, the endpoint goes.
        # A throttled (or refused as in progress) CreateModel/CreateEndpointConfig/CreateEndpoint
        # is retried on the next trigger, and the next trigger is the rejection: the endpoint is
        # then never created at all, which is the better outcome (nothing to pay for, nothing
        # to delete), and the one the check allows for this scenario.
        Scenario(
            "first_deployment_rejected",
            (("approve", "v1"), ("reject", "v1"), ("wait", 180)),
            {"v1": Phase.ABORTED},
            serving=None,
            may_never_create=True,
        ),
        Scenario(
            "second_version_to_100",
            (("approve", "v1"), ("wait", 120), ("approve", "v2"), ("wait", 600)),
            {"v1": Phase.SUCCEEDED, "v2": Phase.SUCCEEDED},
            serving="v2",
        ),
        Scenario(
            "alarm_mid_way",
            (("approve", "v1"), ("wait", 120), ("approve", "v2"), ("wait", 180), ("alarm", "ALARM"), ("wait", 240)),
            {"v1": Phase.SUCCEEDED, "v2": Phase.ROLLED_BACK},
            serving="v1",
        ),
        Scenario(
            "rejection",
            (("approve", "v1"), ("wait", 120), ("approve", "v2"), ("wait", 180), ("reject", "v2"), ("wait", 240)),
            {"v1": Phase.SUCCEEDED, "v2": Phase.ABORTED},
            serving="v1",
        ),
        Scenario(
            "supersede",
            (("approve", "v1"), ("wait", 120), ("approve", "v2"), ("wait", 180), ("approve", "v3"), ("wait", 720)),
            {"v1": Phase.SUCCEEDED, "v2": Phase.SUPERSEDED, "v3": Phase.SUCCEEDED},
            serving="v3",
        ),
        # Issue 13: the shadow config, the shadow's bake, then the candidate at weight 0 (the shadow
        # leaves with that update), the canary, the promotion; and a shadow removed by an alarm.
        Scenario(
            "shadow_then_canary_to_100",
            (("approve", "v1"), ("wait", 120), ("approve", "v2"), ("wait", 600)),
            {"v1": Phase.SUCCEEDED, "v2": Phase.SUCCEEDED},
            serving="v2",
            target=SHADOW_TARGET,
        ),
        Scenario(
            "alarm_during_shadow",
            (("approve", "v1"), ("wait", 120), ("approve", "v2"), ("wait", 300), ("alarm", "ALARM"), ("wait", 180)),
            {"v1": Phase.SUCCEEDED, "v2": Phase.ROLLED_BACK},
            serving="v1",
            target=LONG_SHADOW_TARGET,
        ),
        # The promotion deregisters the baseline variant's scaling target and policy, removes
        # the variant, then registers both on the promoted one.
        Scenario(
            "autoscaled_to_100",
            # (Four minutes before the autoscaling: v1's approval may arrive three minutes late.)
            (("approve", "v1"), ("wait", 240), ("autoscale", "v1"), ("approve", "v2"), ("wait", 600)),
            {"v1": Phase.SUCCEEDED, "v2": Phase.SUCCEEDED},
            serving="v2",
        ),
    )
}


# --- how events reach the functions -----------------------------------------------------------------


class Mailbox:
    """EventBridge delivering every event once, in order, at once. Scheduled ticks bypass it."""

    name = "in order"

    def post(self, events: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
        """The events to deliver now, given these new ones."""
        return list(events)

    def due(self, now: datetime) -> list[dict[str, Any]]:
        """Held events to deliver at the end of this minute (after the tick)."""
        return []

    def holding(self) -> bool:
        return False


class Twice(Mailbox):
    name = "twice"

    def post(self, events: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
        return [event for event in events for _ in range(2)]


class Reordered(Mailbox):
    """Each event is held until the next one arrives, and delivered after it (older after newer)."""

    name = "out of order"

    def __init__(self) -> None:
        self.held: dict[str, Any] | None = None

    def post(self, events: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
        out = []
        for event in events:
            if self.held is None:
                self.held = event
            else:
                out += [event, self.held]
                self.held = None
        return out

    def due(self, now: datetime) -> list[dict[str, Any]]:
        held, self.held = self.held, None
        return [] if held is None else [held]

    def holding(self) -> bool:
        return self.held is not None


class Late(Mailbox):
    """Every event arrives ``minutes`` late (the ticks meanwhile see the world as it is)."""

    name = "late"

    def __init__(self, minutes: int = 3) -> None:
        self.delay = timedelta(minutes=minutes)
        self.queue: list[tuple[datetime, dict[str, Any]]] = []

    def post(self, events: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
        self.queue += [(now + self.delay, event) for event in events]
        return []

    def due(self, now: datetime) -> list[dict[str, Any]]:
        ready = [event for at, event in self.queue if at <= now]
        self.queue = [(at, event) for at, event in self.queue if at > now]
        return ready

    def holding(self) -> bool:
        return bool(self.queue)


class LostEndpointEvents(Mailbox):
    """SageMaker's endpoint events never arrive: the ticks alone must carry the rollouts."""

    name = "endpoint events lost"

    def post(self, events: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
        return [e for e in events if e.get("detail-type") != "SageMaker Endpoint State Change"]
