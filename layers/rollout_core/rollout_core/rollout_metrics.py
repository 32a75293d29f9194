"""The rollouts' own metrics (EMF through Powertools Metrics): counts of outcomes, and timings."""

from __future__ import annotations

import threading
from datetime import datetime

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .models import Phase, Rollout

# Powertools' metric set is one dict per process; decisions run on several threads.
_LOCK = threading.Lock()
OUTCOMES = {
    Phase.SUCCEEDED: "RolloutsSucceeded",
    Phase.ROLLED_BACK: "RolloutsRolledBack",
    Phase.FAILED: "RolloutsFailed",
    Phase.ABORTED: "RolloutsAborted",
    Phase.SUPERSEDED: "RolloutsSuperseded",
}


def count(name: str) -> None:
    # Metrics() shares one metric set per process (flushed by the handler's log_metrics);
    # made here, not at import, so it reads POWERTOOLS_METRICS_NAMESPACE as set now.
    with _LOCK:
        Metrics().add_metric(name=name, unit=MetricUnit.Count, value=1)


def seconds(name: str, value: float) -> None:
    with _LOCK:
        Metrics().add_metric(name=name, unit=MetricUnit.Seconds, value=value)


def outcome(phase: Phase) -> None:
    """One count of the outcome a rollout just reached (nothing for a phase that is no outcome)."""
    if phase in OUTCOMES:
        count(OUTCOMES[phase])


def timings(before: Rollout, after: Rollout, now: datetime) -> None:
    """Step duration, approval to first traffic, alarm to baseline at 100 %."""
    if after.step_index > before.step_index:
        if before.step_index == -1:
            seconds("ApprovalToFirstTraffic", (now - before.created_at).total_seconds())
        elif before.step_started_at is not None:
            seconds("StepDuration", (now - before.step_started_at).total_seconds())
    if after.history and after.history[-1].event == "removing candidate" and after.rollback_started_at:
        previous = before.history[-1].event if before.history else ""
        if previous != "removing candidate":
            seconds("AlarmToRollback", (now - after.rollback_started_at).total_seconds())
