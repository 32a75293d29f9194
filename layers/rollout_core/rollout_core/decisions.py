"""The building blocks every phase of the state machine decides with (pure, no AWS calls).

A decision is the rollout's next state and the actions that get the endpoint there, recorded
in its history. ``request`` asks for the rollout's desired config; ``finish`` ends it;
``outcome`` reads what became of a request from what DescribeEndpoint shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from . import candidate_alarms, changes
from .history import notify, record
from .models import Action, EndpointView, Observations, Phase, Rollout

# Endpoint statuses during which SageMaker refuses another update.
BUSY_STATUSES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "OutOfService"})
# How many times an endpoint change that SageMaker accepted and that did not take effect is requested.
MAX_ATTEMPTS = 3
# A request SageMaker refused (throttled, in progress, not found yet) is sent again no sooner
# than this: a duplicated or repeated trigger in between changes nothing.
RETRY_BACKOFF_SECONDS = 30

Decision = tuple[Rollout, list[Action]]


def backing_off(r: Rollout, now: datetime) -> bool:
    """A refused request is waiting out its backoff (``retry_after``)."""
    return r.retry_after is not None and now < r.retry_after


def refused(r: Rollout, now: datetime) -> Rollout:
    """The pending request was refused: it is not sent, and is sent again after the backoff."""
    return r.model_copy(update={"requested_at": None, "retry_after": now + timedelta(seconds=RETRY_BACKOFF_SECONDS)})


def request(r: Rollout, obs: Observations, now: datetime, event: str, reason: str, *, count: bool = False) -> Decision:
    """Ask for ``r.desired_config`` (creating what it needs); idempotent when repeated.

    ``count``: the previous request of the same config was accepted and did not take effect.
    """
    if r.requested_at is None and backing_off(r, now):
        return r, []
    ep = obs.endpoint
    update: dict[str, Any] = {
        "requested_at": now,
        "attempts": r.attempts + 1 if count else r.attempts,
        "failure_seen": ep.failure_reason if ep is not None else None,
    }
    actions, suspends = changes.for_desired_config(r)
    if suspends:
        update["autoscaling_suspended"] = True
    return record_decision(r.model_copy(update=update), obs, now, event, reason, actions)


def finished(rollout: Rollout, now: datetime) -> Rollout:
    """The finishing actions of a terminal rollout have all been carried out."""
    if not rollout.finishing:
        return rollout
    return record(rollout.model_copy(update={"finishing": []}), now, "cleaned up", "finishing actions done", None, [])


def finish(
    r: Rollout, obs: Observations, now: datetime, phase: Phase, reason: str, actions: Sequence[Action]
) -> Decision:
    """End the rollout; ``actions`` (and the deletion of the candidate's own alarms) are its
    finishing actions, kept on it until they are carried out."""
    actions = [*actions, *candidate_alarms.delete(r)]
    update = {
        "phase": phase,
        "outcome": None,
        "reason": reason,
        "finishing": list(actions),
        "paused": False,
        "paused_at": None,
        "undone_errors": 0,
    }
    done = notify(r.model_copy(update=update), phase.value.lower(), f"rollout {phase.value}: {reason}")
    return record_decision(done, obs, now, phase.value.lower(), reason, list(actions))


def request_outcome(r: Rollout, ep: EndpointView) -> str:
    """done / failed / changed / not-sent, for the config change this rollout asked for.

    "failed" needs SageMaker's evidence: a Failed (or UpdateRollbackFailed) endpoint, or a
    FailureReason that appeared after the request. An endpoint that settled on another config
    after the request with no such evidence is "changed" (an autoscaling or system update may
    have moved LastModifiedTime after a request that was never accepted): asked again, counted.
    """
    if ep.config_name == r.desired_config and ep.status == "InService":
        return "done"
    if ep.status in ("Failed", "UpdateRollbackFailed"):
        return "failed"
    # Strictly after: the change that completed just before the request (the predecessor's
    # last one) carries the same time on a coarse clock and is not this request's outcome.
    if r.requested_at is None or ep.last_modified <= r.requested_at:
        return "not-sent"
    if ep.failure_reason and ep.failure_reason != r.failure_seen:
        return "failed"
    return "changed"


def update_failed(ep: EndpointView, obs: Observations | None = None) -> str:
    """SageMaker's FailureReason, with the candidate container's own last relevant log lines."""
    reason = f"endpoint update failed: {ep.failure_reason or ep.status}"
    if obs is not None and obs.container_log:
        reason += f"; container log: {' | '.join(obs.container_log)}"
    return reason


def settled_on(ep: EndpointView, r: Rollout) -> str:
    return f"endpoint settled on config {ep.config_name}, not {r.desired_config}, with no failure reason"


def weights_match(ep: EndpointView, desired: dict[str, int]) -> bool:
    actual = ep.percentages
    return set(actual) == set(desired) and all(actual[v] == w for v, w in desired.items())


def record_decision(
    r: Rollout, obs: Observations | None, now: datetime, event: str, reason: str, actions: list[Action]
) -> Decision:
    return record(r, now, event, reason, obs, actions), actions
