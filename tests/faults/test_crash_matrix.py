"""Crash-consistency matrix: every scenario, a fault at the k-th AWS call of the product, every fault kind.

Which k: every *call position* of every handler, for every fault kind. A position is the
function, the phases of the live rollouts when the invocation started, and the calls the
invocation had made up to and including this one (the k-th call of the handler's code path in
that state). Each position is faulted at its first occurrence over all scenarios (a later
scenario only adds positions the earlier ones did not have); ``FAULTS_EVERY_K=1`` faults
every k of every scenario instead. How a matrix of hundreds of faulted runs takes seconds:
see tests/faults/harness.py (fork at the faulted call, stop once the state is the baseline's).

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
- the endpoint serves one known model at 100 %, and the store agrees: it is the candidate of
  the last rollout that SUCCEEDED;
- nothing is orphaned: each of this tool's models/configs is in use, or kept by the prune rule
  (it once served: a SUCCEEDED rollout's model or final config, a rollback config), within
  ``retain_models``; after a transient fault the set is exactly the fault-free one; no
  candidate's own guard alarm (issue 17) outlives its settled rollout;
- nothing is done twice: no SageMaker change (same operation and arguments) is accepted twice;
  after a transient fault the endpoint changes are exactly the fault-free ones.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

from rollout_core.models import Phase

from . import stats
from .harness import (
    CRASH,
    ERROR_FAULTS,
    FAULT_KINDS,
    SCENARIOS,
    TARGET,
    TRANSIENT_KINDS,
    Baseline,
    Outcome,
    record_baseline,
    run_matrix,
)

EVERY_K = os.environ.get("FAULTS_EVERY_K") == "1"
CONVERGE = os.environ.get("FAULTS_NO_CONVERGENCE") != "1"
TOTAL_MAX_ATTEMPTS = 4  # rollout_core.aws.clients.RETRY_CONFIG


@pytest.fixture(scope="module")
def baselines() -> dict[str, Baseline]:
    return {name: record_baseline(scenario) for name, scenario in SCENARIOS.items()}


@pytest.fixture(scope="module")
def plans(baselines: dict[str, Baseline]) -> dict[str, dict[int, tuple[str, ...]]]:
    """scenario -> {k: fault kinds}: the first occurrence of every position, every kind."""
    seen: set[tuple[object, ...]] = set()
    plans: dict[str, dict[int, tuple[str, ...]]] = {}
    for name, baseline in baselines.items():
        plan = {}
        for k, where in enumerate(baseline.positions, 1):
            if EVERY_K or where not in seen:
                plan[k] = FAULT_KINDS
            seen.add(where)
        plans[name] = plan
    return plans


def test_baselines_reach_the_expected_outcomes(baselines: dict[str, Baseline]):
    for name, baseline in baselines.items():
        scenario = SCENARIOS[name]
        problems = check_end(baseline.outcome, scenario.expected, set(), None)
        assert baseline.outcome.phases == {k: v.value for k, v in scenario.expected.items()}, name
        assert baseline.outcome.serving_label == scenario.serving, name
        assert not problems, f"{name}: {problems}"


def test_every_position_is_covered_for_every_fault_kind(baselines, plans):
    positions = {where for b in baselines.values() for where in b.positions}
    planned = {baselines[name].positions[k - 1] for name, plan in plans.items() for k in plan}
    assert planned == positions
    assert all(kinds == FAULT_KINDS for plan in plans.values() for kinds in plan.values())
    assert {where[0] for where in positions} == {"ModelApprovalFunction", "RolloutControllerFunction"}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_crash_consistency(name: str, baselines: dict[str, Baseline], plans):
    scenario, baseline = SCENARIOS[name], baselines[name]
    outcomes = run_matrix(scenario, baseline, plans[name], converge=CONVERGE)
    assert len(outcomes) == sum(len(kinds) for kinds in plans[name].values())
    failures = []
    for outcome in outcomes:
        stats.record(outcome)
        problems = check(outcome, baseline, scenario.expected)
        if problems:
            failures.append(describe(outcome, problems))
    assert not failures, f"{len(failures)} of {len(outcomes)} faulted runs failed:\n" + "\n".join(failures[:15])


# --- the checks -----------------------------------------------------------------------------------


def describe(o: Outcome, problems: list[str]) -> str:
    inj = o.injected
    where = "?" if inj is None else f"{inj.kind} at call {inj.index} ({inj.function} {inj.action})"
    return f"- {o.scenario}: {where}: " + "; ".join(problems) + (f"\n{o.error}" if o.error else "")


def check(o: Outcome, baseline: Baseline, expected: dict[str, Phase]) -> list[str]:
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
    final, accepted, changes = o, o.accepted, o.endpoint_changes
    if o.converged_at is not None:
        accepted_mark, changes_mark = baseline.marks[o.converged_at - 1]
        final = baseline.outcome
        accepted = o.accepted + baseline.outcome.accepted[accepted_mark:]
        changes = o.endpoint_changes + baseline.outcome.endpoint_changes[changes_mark:]
    twice = [f"{op} {what}" for (op, what), n in Counter(tuple(a) for a in accepted).items() if n > 1]
    if twice:
        problems.append(f"done twice: {twice}")
    if transient and changes != baseline.outcome.endpoint_changes:
        problems.append(f"endpoint changes {changes} differ from the fault-free {baseline.outcome.endpoint_changes}")
    code = None if transient else ERROR_FAULTS[inj.kind].code
    problems += check_end(final, expected, set(baseline.outcome.models + baseline.outcome.configs), code)
    if transient and final.phases != baseline.outcome.phases:
        problems.append(f"ended {final.phases}, fault-free {baseline.outcome.phases}")
    return problems


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
        if not succeeded or o.serving_label != succeeded[-1]:
            problems.append(f"serving {o.serving_label}, but the last SUCCEEDED rollout is {succeeded[-1:]}")
        else:
            candidate = o.candidates[succeeded[-1]]
            if ep["models"].get(candidate["variant"]) != candidate["model"]:
                problems.append(f"the serving variant runs {ep['models']}, the store says {candidate['model']}")
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
    return problems


def test_a_checker_that_sees_nothing_wrong_is_not_blind():
    """The end-state checks do fail on an orphan, a duplicate change and a wrong serving model."""
    baseline = record_baseline(SCENARIOS["second_version_to_100"])
    good = baseline.outcome
    assert check_end(good, SCENARIOS["second_version_to_100"].expected, set(), None) == []
    orphan = Outcome.from_json(good.to_json())
    orphan.models = [*orphan.models, f"{TARGET.endpoint_name}-m-0000000000"]
    assert any("orphaned" in p for p in check_end(orphan, SCENARIOS["second_version_to_100"].expected, set(), None))
    alarm = Outcome.from_json(good.to_json())
    alarm.candidate_alarms = ["sagemaker-rollout-churn-endpoint-v-0000000000-5xx"]
    expected = SCENARIOS["second_version_to_100"].expected
    assert any("orphaned alarm" in p for p in check_end(alarm, expected, set(), None))
    wrong = Outcome.from_json(good.to_json())
    wrong.serving_label = "v1"
    assert check_end(wrong, SCENARIOS["second_version_to_100"].expected, set(), None)
    from .harness import Injected

    twice = Outcome.from_json(good.to_json())
    twice.injected = Injected(CRASH, 1, "sagemaker:UpdateEndpoint", "RolloutControllerFunction", [])
    twice.crashes = 1
    twice.accepted = [*twice.accepted, twice.accepted[-1]]
    assert any("done twice" in p for p in check(twice, baseline, SCENARIOS["second_version_to_100"].expected))
