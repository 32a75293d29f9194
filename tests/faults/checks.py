"""What a faulted run must have ended with (tests/faults/test_crash_matrix.py and test_delivery.py).

After each fault (and Lambda's retries, the scenario's remaining triggers, and ticks until every
rollout has settled), the checks are:
- the fault happened as designed (botocore tried a retryable error ``total_max_attempts``
  times, a non-retryable one once; a crash killed the invocation);
- every rollout settled; an endpoint lock left behind names a settled rollout (a crash between
  the final write and the lock's release leaves it; the next approval takes it over, see
  test_delivery.py);
- the outcome is the fault-free one; after a non-transient error (ResourceLimitExceeded), a
  rollout may instead end FAILED with that error as its reason (and the rollouts approved after
  it then start from another baseline: only the invariants below are checked for them);
- the endpoint serves one known model at 100 %, on the target's instance type and count, and
  the store agrees: it is the candidate of the last rollout that SUCCEEDED;
- nothing is orphaned: each of this tool's models/configs is in use, or kept by the prune rule
  (it once served: a SUCCEEDED rollout's model or final config, a rollback config), within
  ``retain_models``; after a transient fault the set is exactly the fault-free one. Every
  scaling target is on a variant the endpoint has; no candidate's own guard alarm (issue 17)
  outlives its settled rollout;
- nothing is done twice: no SageMaker change (same operation and arguments) is accepted twice;
- after a transient fault, the endpoint changes, the scaling targets and policies, and the
  milestones announced are exactly the fault-free ones. One exception, for the scenario that
  allows it (``Scenario.may_never_create``): a first deployment rejected before a transient
  fault let it create its endpoint never creates it (the fault-free run creates it, then
  deletes it).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

from rollout_core.models import Phase

from .harness import ERROR_FAULTS, TRANSIENT_KINDS, Baseline
from .observe import Outcome
from .scenarios import TARGET, Scenario

TOTAL_MAX_ATTEMPTS = 4  # rollout_core.aws.clients.RETRY_CONFIG


def describe(o: Outcome, problems: list[str]) -> str:
    inj = o.injected
    where = "?" if inj is None else f"{inj.kind} at call {inj.index} ({inj.function} {inj.action})"
    return f"- {o.scenario}: {where}: " + "; ".join(problems) + (f"\n{o.error}" if o.error else "")


def reconstructed(o: Outcome, baseline: Baseline) -> Outcome:
    """A faulted run's whole outcome: what it did until it converged, then the baseline's end."""
    if o.converged_at is None:
        return o
    accepted_mark, changes_mark = baseline.marks[o.converged_at - 1]
    end = baseline.outcome
    return replace(
        end,
        accepted=o.accepted + end.accepted[accepted_mark:],
        endpoint_changes=o.endpoint_changes + end.endpoint_changes[changes_mark:],
        crashes=o.crashes,
        redeliveries=o.redeliveries,
        failed_invocations=o.failed_invocations,
        injected=o.injected,
        converged_at=o.converged_at,
    )


def check(o: Outcome, baseline: Baseline, scenario: Scenario) -> list[str]:
    if o.error:
        return ["the harness failed"]
    inj = o.injected
    assert inj is not None
    problems = []
    if inj.kind in ERROR_FAULTS:
        fault = ERROR_FAULTS[inj.kind]
        attempts = TOTAL_MAX_ATTEMPTS if fault.retried else 1
        if inj.attempts != attempts or inj.status != fault.status:
            problems.append(f"the client made {inj.attempts} attempts (status {inj.status}), expected {attempts}")
        if fault.retried and inj.sleeps != attempts - 1:
            problems.append(f"botocore backed off {inj.sleeps} times, expected {attempts - 1}")
    elif o.crashes < 1:
        problems.append("the crash did not happen")
    transient = inj.kind in TRANSIENT_KINDS
    final = reconstructed(o, baseline)
    fault_free = baseline.outcome
    twice = [f"{op} {what}" for (op, what), n in Counter(tuple(a) for a in final.accepted).items() if n > 1]
    if twice:
        problems.append(f"done twice: {twice}")
    if transient and final.endpoint_changes != fault_free.endpoint_changes and not never_created(final, scenario):
        problems.append(
            f"endpoint changes {final.endpoint_changes} differ from the fault-free {fault_free.endpoint_changes}"
        )
    code = None if transient else ERROR_FAULTS[inj.kind].code
    problems += check_end(final, scenario.expected, set(fault_free.models + fault_free.configs), code)
    if transient:
        if final.phases != fault_free.phases:
            problems.append(f"ended {final.phases}, fault-free {fault_free.phases}")
        if final.scaling != fault_free.scaling:
            problems.append(f"autoscaling {final.scaling}, fault-free {fault_free.scaling}")
        told, fault_free_told = as_users_see(final.announced), as_users_see(fault_free.announced)
        if told != fault_free_told:
            lost, extra = sorted(fault_free_told - told), sorted(told - fault_free_told)
            problems.append(f"announcements differ from the fault-free ones: lost {lost}, extra {extra}")
    return problems


def as_users_see(announced: list[str]) -> set[str]:
    """The announcements without the milestone's snapshot of the latest canary analysis
    (``analysis`` in an EventBridge detail). A transient fault retries a call a little later, so
    the bake is judged at other minutes: whether the step had been analysed yet when the alarm
    struck (and what the analysis said) is timing, not a different outcome. Everything else
    (which milestones, their phases, steps and texts, and the SNS messages) must match; found
    by `make faults-exhaustive` (alarm_mid_way, 32 of 765 runs, 2026-12-02)."""
    out = set()
    for item in announced:
        channel, detail_type, body = json.loads(item)
        if channel == "events":
            detail = json.loads(body)
            detail.pop("analysis", None)
            body = json.dumps(detail, sort_keys=True)
        out.add(json.dumps([channel, detail_type, body]))
    return out


def never_created(o: Outcome, scenario: Scenario) -> bool:
    """The one allowed departure from the fault-free endpoint changes: a rejected first
    deployment whose endpoint was never created (its rejection arrived before a retry)."""
    return (
        scenario.may_never_create
        and o.endpoint_changes == []
        and o.endpoint is None
        and all(phase == Phase.ABORTED.value for phase in o.phases.values())
    )


def check_end(o: Outcome, expected: dict[str, Phase], fault_free_resources: set[str], code: str | None) -> list[str]:
    """The end state: settled, the expected outcome, one known model serving, nothing orphaned."""
    problems = []
    if o.unsettled:
        problems.append(f"not settled: {o.unsettled} ({o.phases})")
    if o.locks and not all(owner in settled_ids(o) for owner in o.locks.values()):
        problems.append(f"an endpoint lock is held by a rollout that has not settled: {o.locks}")
    for label, want in expected.items():
        got = o.phases.get(label)
        failed_by_fault = code is not None and got == Phase.FAILED.value and code in o.reasons.get(label, "")
        if failed_by_fault:
            # The rollouts after it start from another baseline (none at all, when a first
            # deployment failed): only the invariants below hold for them.
            break
        if got != want.value:
            problems.append(f"{label} is {got} ({o.reasons.get(label)}), expected {want.value}")
    succeeded = [label for label, phase in o.phases.items() if phase == Phase.SUCCEEDED.value]
    ep = o.endpoint
    if ep is None:
        if succeeded:
            problems.append("no endpoint, but a rollout succeeded")
    else:
        if ep["status"] != "InService" or list(ep["weights"].values()) != [100]:
            problems.append(f"endpoint {ep['status']} with weights {ep['weights']}, expected one model at 100 %")
        if ep.get("shadows"):
            problems.append(f"a shadow variant left on the endpoint: {ep['shadows']}")
        if not succeeded or o.serving_label != succeeded[-1]:
            problems.append(f"serving {o.serving_label}, but the last SUCCEEDED rollout is {succeeded[-1:]}")
        else:
            candidate = o.candidates[succeeded[-1]]
            if ep["models"].get(candidate["variant"]) != candidate["model"]:
                problems.append(f"the serving variant runs {ep['models']}, the store says {candidate['model']}")
            wanted = [TARGET.instance_type, TARGET.instance_count]
            if ep["instances"].get(candidate["variant"]) != wanted:
                problems.append(f"the serving variant runs on {ep['instances']}, the target says {wanted}")
    problems += orphans(o, succeeded)
    if code is None and fault_free_resources and set(o.models + o.configs) != fault_free_resources:
        problems.append(f"models/configs {sorted(o.models + o.configs)}, fault-free {sorted(fault_free_resources)}")
    return problems


def settled_ids(o: Outcome) -> set[str]:
    return {c["rollout_id"] for label, c in o.candidates.items() if label not in o.unsettled}


def orphans(o: Outcome, succeeded: list[str]) -> list[str]:
    in_use = set() if o.endpoint is None else {o.endpoint["config"], *o.endpoint["models"].values()}
    once_served = set()
    for label in succeeded:
        candidate = o.candidates[label]
        once_served |= {candidate["model"], f"{TARGET.endpoint_name}-c-{candidate['rollout_id']}-final"}
    problems = [f"orphaned alarm: {name}" for name in o.candidate_alarms]  # every rollout has settled
    for name in o.models + o.configs:
        if name in in_use:
            continue
        if name in once_served or name.endswith("-back"):
            continue
        problems.append(f"orphaned: {name}")
    keep = TARGET.retain_models
    for kind, names in (("models", o.models), ("configs", o.configs)):
        idle = [n for n in names if n not in in_use]
        if len(idle) > keep:
            problems.append(f"{len(idle)} {kind} kept beyond the {keep} the prune rule keeps: {idle}")
    variants = set() if o.endpoint is None else set(o.endpoint["models"])
    for rid in o.scaling:
        if rid.rsplit("/", 1)[-1] not in variants:
            problems.append(f"autoscaling left on a variant the endpoint does not have: {rid}")
    return problems
