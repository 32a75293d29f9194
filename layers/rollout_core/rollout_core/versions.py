"""Where is version N? Each model package version's state in one environment, from its rollouts.

The rollout API answers ``GET /v1/versions?group=`` with ``table``; the client asks every
environment and shows one row per version, one column per environment (``versions`` command).
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from . import promotion
from .models import Phase, Rollout

# A version's state in one environment, from its latest rollout there (or the serving one).
ROLLING_OUT = frozenset({Phase.PENDING, Phase.PROVISIONING, Phase.SHIFTING, Phase.BAKING, Phase.PROMOTING})
ENDED = {
    Phase.ROLLED_BACK: "rolled back",
    Phase.FAILED: "failed",
    Phase.ABORTED: "aborted",
    Phase.SUPERSEDED: "superseded",
}


def version_number(model_package_arn: str) -> int | None:
    """A registry package ARN ends with its version: .../model-package/<group>/<version>."""
    last = model_package_arn.rsplit("/", 1)[-1]
    return int(last) if last.isdigit() else None


def waiting(rollout: Rollout) -> dict[str, Any] | None:
    """What a WAITING rollout waits for (None for any other phase)."""
    p = rollout.promotion
    if rollout.phase is not Phase.WAITING or p is None:
        return None
    soaking = promotion.soaking(rollout)
    return {
        "for": "soak" if soaking else "operator" if p.approved_at is None else "release",
        "upstream": p.upstream,
        "gate": p.gate.value,
        "reached_at": p.reached_at.isoformat(),
        "soak_until": p.soak_until.isoformat() if p.soak_until else None,
        # waiting since the arrival; at the gate since the end of its soak (or the arrival)
        "since": (p.soaked_at or rollout.created_at).isoformat(),
        "approved_by": p.approved_by,
        "text": promotion.waiting_for(rollout),
    }


def state(latest: Rollout, serving: bool) -> tuple[str, str]:
    """(state, detail) of a version whose latest rollout is ``latest``; ``serving``: one of its
    rollouts is the endpoint's last promoted one."""
    phase = latest.phase
    if phase is Phase.WAITING:
        return "waiting", promotion.waiting_for(latest)
    if phase in ROLLING_OUT:
        if phase is Phase.PENDING:
            return "rolling out", "queued for the endpoint"
        if latest.first_deployment:
            return "rolling out", "first deployment (all traffic at once)"
        step = latest.target.plan.steps
        return "rolling out", f"{latest.current_step_percent}% (step {latest.step_index + 1} of {len(step)})"
    if phase is Phase.ROLLING_BACK:
        return "rolling back", latest.reason
    if serving:
        return "serving", "100%"
    if phase is Phase.SUCCEEDED:
        return "replaced", "served, then replaced by a later rollout"
    return ENDED[phase], latest.reason


def table(rollouts: list[Rollout], serving_id: str | None) -> list[dict[str, Any]]:
    """One row per model package version with a rollout here, newest version first."""
    rows = []
    by_package = sorted(rollouts, key=lambda r: (r.model_package_arn, r.updated_at))
    for arn, group in groupby(by_package, key=lambda r: r.model_package_arn):
        mine = list(group)
        latest = max(mine, key=lambda r: r.created_at)
        serving = any(r.rollout_id == serving_id for r in mine)
        name, detail = state(latest, serving)
        rows.append(
            {
                "model_package_arn": arn,
                "version": version_number(arn),
                "state": name,
                "detail": detail,
                "phase": latest.phase.value,
                "rollout_id": latest.rollout_id,
                "since": latest.updated_at.isoformat(),
                "waiting": waiting(latest),
            }
        )
    return sorted(rows, key=lambda row: (row["version"] or 0, row["model_package_arn"]), reverse=True)
