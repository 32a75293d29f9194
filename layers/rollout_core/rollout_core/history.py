"""A rollout's journal: the history of its decisions and the milestones it has to announce.

Pure functions on the Rollout model; the shell saves the rollout, then publishes its outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .models import Action, HistoryEntry, Notification, Observations, Rollout

HISTORY_LIMIT = 200

MILESTONE_TYPES = {
    "started": "Rollout Started",
    "instance_type_changed": "Rollout Instance Type Changed",
    "shadow_started": "Rollout Shadow Started",
    "shadow_passed": "Rollout Shadow Passed",
    "step_advanced": "Rollout Step Advanced",
    "paused": "Rollout Paused",
    "resumed": "Rollout Resumed",
    "promote_requested": "Rollout Promote Requested",
    "succeeded": "Rollout Succeeded",
    "rolled_back": "Rollout Rolled Back",
    "failed": "Rollout Failed",
    "superseded": "Rollout Superseded",
    "aborted": "Rollout Aborted",
    "needs_attention": "Rollout Needs Attention",
    # Promotion across environments (promotion.py): recorded at a soak or a manual gate; approved.
    "waiting": "Rollout Waiting",
    "gate_approved": "Rollout Gate Approved",
}


def notify(r: Rollout, milestone: str, text: str) -> Rollout:
    """Queue a milestone on the rollout; the shell announces it after the state is saved."""
    detail_type = MILESTONE_TYPES[milestone]
    note = Notification(
        milestone=milestone,
        detail_type=detail_type,
        subject=f"[sagemaker-rollout] {r.endpoint_name}: {detail_type.removeprefix('Rollout ').lower()}",
        message=f"{r.endpoint_name} / rollout {r.rollout_id} ({r.model_package_arn}): {text}",
        detail={
            "rollout_id": r.rollout_id,
            "endpoint": r.endpoint_name,
            "model_package_arn": r.model_package_arn,
            "phase": r.phase.value,
            "step_percent": r.current_step_percent,
            "text": text,
            # What a downstream environment follows (promotion_service.py): the group, what
            # started this rollout (it follows approvals and promotions, not an operator's
            # starts), and the guard alarms whose ALARM during its soak cancels it. The shell
            # adds this stack's environment, account and region (aws/notify.py).
            "model_package_group": r.model_package_group,
            "trigger": r.trigger,
            "guard_alarms": r.target.guard_alarms,
        },
        resources=[r.model_package_arn],
    )
    if milestone in ("rolled_back", "failed"):
        note.detail.update(_judged(r))
    return r.model_copy(update={"outbox": [*r.outbox, note]})


def _judged(r: Rollout) -> dict[str, Any]:
    """What judged the candidate, for a rollout that ended badly (issue 12): a failed smoke test,
    or the checks of the latest canary analysis that did not pass, with their numbers."""
    out: dict[str, Any] = {}
    if r.smoke_test is not None and r.smoke_test.outcome == "failed":
        out["smoke_test"] = {"outcome": "failed", "reason": r.smoke_test.reason}
    report = r.analysis
    if report is not None and report.verdict != "PASS":
        checks = [c for c in report.checks if c.verdict != "PASS"]
        out["analysis"] = {
            "verdict": report.verdict.value,
            "step_percent": report.step_percent,
            "score": report.score,
            "checks": [c.model_dump(mode="json", exclude={"detail"}) for c in checks],
        }
    return out


def announced(rollout: Rollout) -> Rollout:
    """The outbox has been published."""
    return rollout.model_copy(update={"outbox": []})


def record(
    r: Rollout, now: datetime, event: str, reason: str, obs: Observations | None, actions: Sequence[Action]
) -> Rollout:
    """``r`` with one more history entry (the newest HISTORY_LIMIT are kept)."""
    entry = HistoryEntry(
        at=now,
        phase=r.phase,
        step=r.step_index,
        event=event,
        reason=reason,
        observations=obs.summary() if obs is not None else {},
        actions=[describe(a) for a in actions],
    )
    history = [*r.history, entry][-HISTORY_LIMIT:]
    return r.model_copy(update={"history": history, "updated_at": now})


def describe(action: Action) -> str:
    fields: dict[str, Any] = action.model_dump(exclude={"kind", "variants", "snapshot", "baseline_config"})
    inner = ", ".join(f"{k}={v}" for k, v in fields.items())
    return f"{action.kind}({inner})"
