"""How an AWS error raised by one of a decision's actions changes the rollout (pure).

Transient errors (throttling, unavailability, an endpoint that is already Updating) and a
model or config just created that SageMaker does not see yet (the CreateEndpoint API
reference: configs are read eventually consistently) leave the state as it is, with the change
marked as not sent; anything else ends the rollout with the baseline serving.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import candidate_alarms, changes, fallbacks
from .decisions import refused
from .history import describe, notify, record
from .models import (
    Action,
    CreateEndpoint,
    CreateEndpointConfig,
    CreateModel,
    DeleteEndpoint,
    DeleteEndpointConfig,
    DeleteModel,
    Phase,
    PruneOldModels,
    PutCandidateAlarms,
    Rollout,
    SuspendAutoscaling,
    UpdateCapacity,
    UpdateEndpoint,
    UpdateWeights,
)
from .rollback import unpaused

# Errors (not transient ones) on the way back or in clean-up before the tool gives up and asks
# for hands: the rollout then ends FAILED (on the way back) or keeps its outcome (clean-up),
# says what is left to do, and announces "Rollout Needs Attention" or "Rollout Failed".
MAX_UNDONE_ERRORS = 10
# A model or config just created that SageMaker does not find yet is retried for this long.
LOOKUP_WINDOW_SECONDS = 300
# Error codes after which the same request is simply tried again later.
TRANSIENT_ERRORS = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "RequestLimitExceeded",
        "RetryLater",  # raised by an adapter that must wait (e.g. the async endpoint is Updating)
    }
)
# Actions that send (part of) an endpoint change: when one is refused, the change was not sent.
ENDPOINT_CHANGES = (
    CreateModel,
    CreateEndpointConfig,
    CreateEndpoint,
    UpdateEndpoint,
    UpdateWeights,
    UpdateCapacity,
    SuspendAutoscaling,
)


def on_action_error(rollout: Rollout, action: Action, code: str, message: str, now: datetime) -> Rollout:
    """Fold an AWS error raised by one of the decided actions into the rollout.

    Transient errors (throttling, unavailability, an endpoint that is already Updating, a
    model or config just created that SageMaker does not see yet) leave the state as it is,
    with the change marked as not sent: the next decision sees the endpoint unchanged and
    asks again. Anything else ends the rollout with the baseline serving.
    """
    detail = f"{action.kind} failed: {code}: {message}"
    if isinstance(action, PutCandidateAlarms) and action.repair:
        # An endpoint change may be in flight: nothing is undone; the next decision puts them again.
        return record(rollout, now, "will retry", f"{detail} (put again on the next decision)", None, [])
    if rollout.phase.terminal:
        if _transient(code, message):
            return record(rollout, now, "will retry", detail, None, [])
        return _retry_or_give_up(rollout, detail, now)
    if _not_visible_yet(action, code, message):
        key = rollout.desired_config or ""
        since = rollout.missing_since.get(key, now)
        waited = (now - since).total_seconds()
        if waited <= LOOKUP_WINDOW_SECONDS:
            waiting = _not_sent(rollout, action, now).model_copy(update={"missing_since": {key: since}})
            return record(
                waiting, now, "will retry", f"{detail} (just created: SageMaker reads it eventually)", None, []
            )
        detail = f"{detail} (still not found after {int(waited)}s)"
    elif _transient(code, message):
        return record(_not_sent(rollout, action, now), now, "will retry", detail, None, [])
    elif fallbacks.refuses_candidate(rollout, action, code, message):
        # issue 17: the candidate's instance type does not fit the quota: the next type, if any.
        moved = fallbacks.after_refusal(rollout, action, code, message, now)
        if moved is not None:
            return moved
        if rollout.refused_types:
            detail = f"{action.kind} failed: {code}: {fallbacks.refusals(rollout, message)}"
    if rollout.phase is Phase.ROLLING_BACK or isinstance(
        action, DeleteEndpointConfig | DeleteModel | PruneOldModels | DeleteEndpoint
    ):
        # Clean-up and the way back are retried, a bounded number of times.
        return _retry_or_give_up(rollout, detail, now)
    if rollout.phase in (Phase.PENDING, Phase.PROVISIONING) and rollout.first_deployment:
        # What the request created for the candidate is deleted (nothing of it serves).
        failed = rollout.model_copy(update={"phase": Phase.FAILED, "reason": detail, "finishing": _discarded(rollout)})
        return record(failed, now, "failed", detail, None, [])
    if (
        rollout.phase is Phase.PROVISIONING
        and rollout.shadow is None
        and not isinstance(action, UpdateWeights | UpdateCapacity)
    ):
        # Only a weights or capacity update can have left the candidate on the endpoint (after a
        # shadow phase the shadow may still be there: the way back below removes it).
        failed = rollout.model_copy(update={"phase": Phase.FAILED, "reason": detail, "finishing": _discarded(rollout)})
        return record(failed, now, "failed", detail, None, [])
    update: dict[str, Any] = {"phase": Phase.ROLLING_BACK, "outcome": Phase.FAILED, "reason": detail}
    stopping = rollout.model_copy(update=update | unpaused(rollout, now))  # the way back is never held
    return record(stopping, now, "rolling back", detail, None, [])


def _discarded(rollout: Rollout) -> list[Action]:
    """What a rollout that failed while its candidate joined leaves to clean up."""
    return [*changes.discard_candidate(rollout), *candidate_alarms.delete(rollout)]


def _not_sent(rollout: Rollout, action: Action, now: datetime) -> Rollout:
    """The endpoint change this action belongs to was refused: it is not pending any more."""
    if isinstance(action, ENDPOINT_CHANGES):
        return refused(rollout, now)
    return rollout


def _not_visible_yet(action: Action, code: str, message: str) -> bool:
    """SageMaker does not see a model/config that this rollout has just created."""
    return (
        isinstance(action, CreateEndpointConfig | CreateEndpoint | UpdateEndpoint)
        and code in ("ValidationException", "ValidationError")
        and "could not find" in message.lower()
    )


def _transient(code: str, message: str) -> bool:
    if code in TRANSIENT_ERRORS:
        return True
    lowered = message.lower()
    return code == "ValidationException" and any(s in lowered for s in ("updating", "in progress", "in-progress"))


def _retry_or_give_up(r: Rollout, detail: str, now: datetime) -> Rollout:
    """Retry the way back or the clean-up, or, after MAX_UNDONE_ERRORS, stop and say what is left."""
    errors = r.undone_errors + 1
    if errors < MAX_UNDONE_ERRORS:
        retrying = r.model_copy(update={"undone_errors": errors})
        return record(retrying, now, "will retry", f"{detail} (error {errors} of {MAX_UNDONE_ERRORS})", None, [])
    if r.phase.terminal:
        left = "; ".join(describe(a) for a in r.finishing) or "nothing"
        text = f"clean-up gave up after {errors} errors (last: {detail}); left to do by hand: {left}"
        update: dict[str, Any] = {"finishing": [], "needs_attention": text, "undone_errors": errors}
        gave_up = notify(r.model_copy(update=update), "needs_attention", text)
        return record(gave_up, now, "gave up", text, None, [])
    assert r.baseline is not None or r.first_deployment
    back = (
        f"delete endpoint {r.endpoint_name}"
        if r.first_deployment
        else f"serve model {r.baseline.model_name if r.baseline else '?'} alone on {r.endpoint_name}"
    )
    text = (
        f"{r.reason}; the way back failed {errors} times (last: {detail}): {back} by hand, then delete "
        f"model {r.candidate.model_name} and the configs {r.endpoint_name}-c-{r.rollout_id}-*"
    )
    update = {
        "phase": Phase.FAILED,
        "outcome": None,
        "reason": text,
        "finishing": [],
        "needs_attention": text,
        "undone_errors": errors,
        "paused": False,
    }
    failed = notify(r.model_copy(update=update), "failed", f"rollout FAILED: {text}")
    return record(failed, now, "failed", text, None, [])
