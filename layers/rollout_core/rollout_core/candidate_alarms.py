"""The candidate variant's own guard alarms in the state machine (pure).

They are put when the candidate joins (before the endpoint update that adds it), put again
whenever a forward phase finds one missing (a crash between the saved decision and
PutMetricAlarm, an alarm deleted by hand: level-triggered like the rest), and deleted among the
finishing actions of the rollout (decisions.finish), which are kept until carried out: no alarm
outlives its rollout. They guard like the target's alarms (guards.py), on the candidate's
metrics only, so an endpoint-wide alarm's mix of both variants does not hide a bad candidate.
"""

from __future__ import annotations

from .models import Action, DeleteCandidateAlarms, Observations, Phase, PutCandidateAlarms, Rollout

# Phases in which the alarms guard (during PROMOTING alarms are not looked at).
_GUARDING = frozenset({Phase.PROVISIONING, Phase.SHIFTING, Phase.BAKING})


def put(r: Rollout, *, repair: bool = False) -> list[Action]:
    """PutMetricAlarm for every one of the candidate's alarms (none for a first deployment)."""
    spec = r.target.candidate_alarm_spec
    if not r.candidate_alarms or spec is None:
        return []
    return [
        PutCandidateAlarms(
            endpoint_name=r.endpoint_name,
            variant_name=r.candidate.variant_name,
            alarms=dict(r.candidate_alarms),
            spec=spec,
            repair=repair,
        )
    ]


def repair(r: Rollout, obs: Observations) -> list[Action]:
    """Put them again when one is missing while they guard (DescribeAlarms leaves it out)."""
    if r.phase not in _GUARDING or all(name in obs.alarms for name in r.candidate_alarms.values()):
        return []
    return put(r, repair=True)


def delete(r: Rollout) -> list[Action]:
    """The finishing action that deletes them (none before the candidate joined: none were made)."""
    if not r.candidate_alarms or r.phase is Phase.PENDING:
        return []
    return [DeleteCandidateAlarms(names=sorted(r.candidate_alarms.values()))]
