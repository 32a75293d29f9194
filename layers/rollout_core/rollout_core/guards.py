"""The guard alarms' verdict on a rollout (pure): which fire, which hold a step, which are stale.

An alarm counts from the moment the rollout starts: a transition to ALARM after that rolls
back. An alarm that was already in ALARM when the rollout started (CloudWatch's
StateUpdatedTimestamp, or the ALARM event's time, is older) is *stale*: it is ignored, neither
firing nor holding, until it changes state again. That is what lets a hotfix roll out onto an
endpoint whose alarms are already firing because of the version being replaced.
"""

from __future__ import annotations

from .models import AlarmState, InsufficientData, Observations, Phase, Rollout


def watching(r: Rollout) -> list[str]:
    """The alarms that guard the rollout now. The candidate's own alarms are put when it joins
    as a production variant (machine.py, shadow.py's way out), so while it is only the shadow
    the target's alarms guard it: an alarm not made yet would hold the shadow phase forever."""
    if r.phase is Phase.SHADOWING:
        return list(r.target.guard_alarms)
    return r.guard_alarm_names


def stale(r: Rollout, obs: Observations) -> list[str]:
    """Guard alarms in ALARM since before the rollout started (ignored)."""
    return [
        name
        for name in watching(r)
        if obs.alarms.get(name) is AlarmState.ALARM
        and (since := obs.alarm_since.get(name)) is not None
        and since < r.created_at
    ]


def firing(r: Rollout, obs: Observations) -> list[str]:
    """Guard alarms in ALARM since the rollout started (an unknown time counts: the stricter reading)."""
    old = set(stale(r, obs))
    return [n for n in watching(r) if obs.alarms.get(n) is AlarmState.ALARM and n not in old]


def holding(r: Rollout, obs: Observations) -> bool:
    """A guard alarm without data (or missing) holds the step, unless the plan says it counts as OK."""
    if r.target.plan.insufficient_data is InsufficientData.OK:
        return False
    return any(
        obs.alarms.get(name, AlarmState.INSUFFICIENT_DATA) is AlarmState.INSUFFICIENT_DATA for name in watching(r)
    )
