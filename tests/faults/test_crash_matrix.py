"""Crash-consistency matrix: every scenario, a fault at the k-th AWS call of the product, every fault kind.

Which k: every *call position* of every handler, for every fault kind. A position
(harness.position) is a call's place on a code path: the function, its trigger, the state it
started from (the endpoint; each unsettled rollout's phase, the outcome a rollback pursues,
baseline or first deployment, autoscaling, clean-up left), and every call the invocation made.
Each position is faulted at its first occurrence over all scenarios (a
later scenario only adds positions the earlier ones did not have), so every mutating call of
every scenario is faulted at least once, there or at the same position earlier; the run prints
that coverage per scenario. ``FAULTS_EVERY_K=1`` (``make faults-exhaustive``) faults every k
of every scenario instead. How a matrix of hundreds of faulted runs takes minutes: see
tests/faults/harness.py (fork at the faulted call, stop once the state is the baseline's); a
sample of positions also runs to the end without that shortcut, and must end the same.

The checks after each faulted run: tests/faults/checks.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from . import stats
from .checks import as_users_see, check, check_end, describe, never_created, reconstructed
from .harness import CRASH, FAULT_KINDS, Baseline, record_baseline, run_matrix
from .observe import Injected, Outcome, mutating
from .scenarios import SCENARIOS, TARGET

EVERY_K = os.environ.get("FAULTS_EVERY_K") == "1"
CONVERGE = os.environ.get("FAULTS_NO_CONVERGENCE") != "1"
# Converged faulted runs per scenario that run again to the end without the shortcut.
SHORTCUT_SAMPLE = 3
Plans = dict[str, dict[int, tuple[str, ...]]]


@pytest.fixture(scope="module")
def baselines() -> dict[str, Baseline]:
    return {name: record_baseline(scenario) for name, scenario in SCENARIOS.items()}


# The services whose errors the state machine tells apart (machine.on_action_error: throttling,
# unavailable and "in progress" are transient, the rest fail the rollout). Any other call's
# error goes up the same way whatever its code, so there a retried error (throttling), a
# non-retried one (limit) and a crash are every path; the exhaustive run gives them all kinds.
ACTION_SERVICES = frozenset({"sagemaker", "application-autoscaling"})
OTHER_KINDS = ("throttling", "limit", CRASH)


def kinds_for(action: str, every_k: bool = False) -> tuple[str, ...]:
    """All five kinds for SageMaker's and autoscaling's *actions*, whose error codes the state
    machine tells apart; a read's error goes up the same way whatever its code (a retried one,
    a non-retried one and a crash are its every path), as any other service's call."""
    service = action.split(":", 1)[0]
    return FAULT_KINDS if every_k or (service in ACTION_SERVICES and mutating(action)) else OTHER_KINDS


def plan_key(where: tuple[Any, ...], action: str) -> tuple[Any, ...]:
    """What makes two calls the same for the plan: a mutating call's whole position (its place
    on its code path); a read's place on the path so far (nothing after a read changes what a
    fault there does: the same code ran on the same state up to it)."""
    function, trigger, state, ops, n = where
    return where if mutating(action) else (function, trigger, state, ops[: n + 1])


def make_plans(baselines: dict[str, Baseline], every_k: bool = False) -> Plans:
    """scenario -> {k: fault kinds}: the first occurrence of every position (every k with
    ``every_k``), with its kinds."""
    seen: set[tuple[object, ...]] = set()
    plans: Plans = {}
    for name, baseline in baselines.items():
        plan = {}
        for k, (where, action) in enumerate(zip(baseline.positions, baseline.actions, strict=True), 1):
            key = plan_key(where, action)
            if every_k or key not in seen:
                plan[k] = kinds_for(action, every_k)
            seen.add(key)
        plans[name] = plan
    return plans


@pytest.fixture(scope="module")
def plans(baselines: dict[str, Baseline]) -> Plans:
    plans = make_plans(baselines, EVERY_K)
    for name, line in coverage(baselines, plans).items():
        stats.coverage[name] = line
    return plans


def coverage(baselines: dict[str, Baseline], plans: Plans) -> dict[str, dict[str, int]]:
    """Per scenario: its mutating calls, how many are faulted in it, how many at a position
    faulted before (the same call of the same code path on the same kind of state, earlier in
    the scenario or in an earlier one), and all its calls."""
    faulted_positions: set[tuple[Any, ...]] = set()
    out = {}
    for name, baseline in baselines.items():
        here = plans[name]
        line = {
            "missed": 0,
            "mutating": 0,
            "faulted": 0,
            "earlier": 0,
            "calls": len(baseline.actions),
            "faulted_calls": len(here),
        }
        for k, action in enumerate(baseline.actions, 1):
            where = plan_key(baseline.positions[k - 1], action)
            if mutating(action):
                line["mutating"] += 1
                line["faulted" if k in here else "earlier" if where in faulted_positions else "missed"] += 1
            if k in here:
                faulted_positions.add(where)
        out[name] = line
    return out


def test_baselines_reach_the_expected_outcomes(baselines: dict[str, Baseline]):
    for name, baseline in baselines.items():
        scenario = SCENARIOS[name]
        problems = check_end(baseline.outcome, scenario.expected, set(), None)
        assert baseline.outcome.phases == {k: v.value for k, v in scenario.expected.items()}, name
        assert baseline.outcome.serving_label == scenario.serving, name
        assert not problems, f"{name}: {problems}"
        # A fault-free run has no failed invocation: a handler error there would be a bug the
        # faulted runs then only repeat.
        assert (baseline.outcome.failed_invocations, baseline.outcome.crashes) == (0, 0), name


def test_the_autoscaling_baseline_carries_scaling_to_the_promoted_variant(baselines: dict[str, Baseline]):
    """Target tracking and step scaling (with its alarm recreated for the new variant), so the
    matrix faults every call of both carry-overs."""
    outcome = baselines["autoscaled_to_100"].outcome
    variant = outcome.candidates["v2"]["variant"]
    rid = f"endpoint/{TARGET.endpoint_name}/variant/{variant}"
    assert list(outcome.scaling) == [rid]
    assert outcome.scaling[rid]["min"] == 1 and outcome.scaling[rid]["max"] == 3
    assert [p[0] for p in outcome.scaling[rid]["policies"]] == ["invocations-per-instance", "scale-out-on-latency"]
    keep = ("application-autoscaling:", "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms")
    order = [a.split(":")[1] for a in baselines["autoscaled_to_100"].actions if a.startswith(keep)]
    assert [a for a in order if not a.startswith("Describe")] == [
        "PutMetricAlarm",  # issue 17: the candidate's own 5XX alarm, as it joins
        "DeleteScalingPolicy",
        "DeleteScalingPolicy",
        "DeregisterScalableTarget",
        "RegisterScalableTarget",
        "PutScalingPolicy",
        "PutScalingPolicy",
        "PutMetricAlarm",  # the step policy's alarm, for the promoted variant
        "DeleteAlarms",  # issue 17: the candidate's own alarm, a finishing action
    ]


def test_every_position_is_covered_for_its_fault_kinds(baselines, plans):
    keys = {plan_key(where, a) for b in baselines.values() for where, a in zip(b.positions, b.actions, strict=True)}
    planned = {
        plan_key(baselines[name].positions[k - 1], baselines[name].actions[k - 1])
        for name, plan in plans.items()
        for k in plan
    }
    assert planned == keys
    for name, plan in plans.items():
        for k, kinds in plan.items():
            assert kinds == kinds_for(baselines[name].actions[k - 1], EVERY_K)
    assert {where[0] for where in keys} == {"ModelApprovalFunction", "RolloutControllerFunction"}
    for name, line in coverage(baselines, plans).items():
        assert line["faulted"] + line["earlier"] == line["mutating"], (name, line)


# Each scenario's own step (a rejection, an alarm, a rejected first deployment, a variant put
# under autoscaling): no mutating call from there on may count as covered by an earlier
# scenario's happy path, or the rollback, abort and autoscaling paths go unfaulted.
OWN_STEP = {
    "first_deployment_rejected": "reject",
    "alarm_mid_way": "alarm",
    "rejection": "reject",
    "autoscaled_to_100": "autoscale",
    "alarm_during_shadow": "alarm",  # issue 13: removing a shadow is not the canary's rollback
}


def own_path_calls(name: str, baseline: Baseline) -> list[int]:
    """The mutating calls the fault-free run made from the scenario's own step on."""
    steps = [kind for kind, _ in SCENARIOS[name].steps]
    first = baseline.step_calls[steps.index(OWN_STEP[name])] + 1
    return [k for k, action in enumerate(baseline.actions, 1) if k >= first and mutating(action)]


@pytest.mark.parametrize("name", list(OWN_STEP))
def test_rollback_abort_and_autoscaling_paths_are_faulted_in_their_own_scenario(name, baselines, plans):
    """Positions tell the paths apart: the rollback of an alarm is not "covered" by a first
    deployment's abort, nor a promotion with autoscaling by one without. (A call at the same
    position as one faulted earlier in the same scenario, e.g. the second step's weight
    change, is the same call of the same path.)"""
    baseline = baselines[name]
    ks = own_path_calls(name, baseline)
    assert ks, name
    faulted_here = {baseline.positions[k - 1] for k in plans[name]}
    missing = [f"{k} {baseline.actions[k - 1]}" for k in ks if baseline.positions[k - 1] not in faulted_here]
    # Each gets every kind (SageMaker and autoscaling calls) or its service's kinds.
    assert all(set(kinds_for(baseline.actions[k - 1])) <= set(plans[name].get(k, FAULT_KINDS)) for k in ks)
    assert not missing, f"{name}: mutating calls of its own path not faulted in it: {missing}"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_crash_consistency(name: str, baselines: dict[str, Baseline], plans):
    scenario, baseline = SCENARIOS[name], baselines[name]
    outcomes = run_matrix(scenario, baseline, plans[name], converge=CONVERGE)
    assert len(outcomes) == sum(len(kinds) for kinds in plans[name].values())
    failures = []
    for outcome in outcomes:
        stats.record(outcome)
        problems = check(outcome, baseline, scenario)
        if problems:
            failures.append(describe(outcome, problems))
    assert not failures, f"{len(failures)} of {len(outcomes)} faulted runs failed:\n" + "\n".join(failures[:15])
    if CONVERGE:
        check_the_shortcut(name, baseline, outcomes)


# The fields a converged run's reconstructed end (checks.reconstructed) must share with the
# same faulted run carried to its end.
COMPARED = (
    "phases",
    "reasons",
    "unsettled",
    "endpoint",
    "serving_label",
    "candidates",
    "models",
    "configs",
    "endpoint_changes",
    "accepted",
    "locks",
    "scaling",
    "announced",
)


def check_the_shortcut(name: str, baseline: Baseline, outcomes: list[Outcome]) -> None:
    """A sample of converged runs, run again to the end without stopping at convergence."""
    converged = sorted(
        (o for o in outcomes if o.converged_at is not None and o.injected is not None),
        key=lambda o: (o.injected.index, o.injected.kind) if o.injected else (0, ""),
    )
    if not converged:
        return
    step = max(1, len(converged) // SHORTCUT_SAMPLE)
    sample = converged[step // 2 :: step][:SHORTCUT_SAMPLE]
    plan: dict[int, tuple[str, ...]] = {}
    for o in sample:
        assert o.injected is not None
        plan[o.injected.index] = (*plan.get(o.injected.index, ()), o.injected.kind)
    full = {
        (o.injected.index, o.injected.kind): o for o in run_matrix(SCENARIOS[name], baseline, plan, False) if o.injected
    }
    stats.shortcut_checked[name] += len(full)
    differences = []
    for o in sample:
        assert o.injected is not None
        problems = shortcut_differences(reconstructed(o, baseline), full[(o.injected.index, o.injected.kind)])
        if problems:
            differences.append(describe(o, problems))
    assert not differences, "the convergence shortcut disagrees with full runs:\n" + "\n".join(differences)


def shortcut_differences(short: Outcome, full: Outcome) -> list[str]:
    if full.error:
        return [f"the full run failed: {full.error}"]
    return [
        f"{key}: {getattr(short, key)} != {getattr(full, key)}"
        for key in COMPARED
        if getattr(short, key) != getattr(full, key)
    ]


# --- the checker's own tests -------------------------------------------------------------------------


def test_a_checker_that_sees_nothing_wrong_is_not_blind(baselines: dict[str, Baseline]):
    """The end-state checks do fail on an orphan, a duplicate change, a wrong serving model or
    instance count, a lost announcement and scaling left behind."""
    scenario = SCENARIOS["second_version_to_100"]
    baseline = baselines[scenario.name]
    good = baseline.outcome
    assert check_end(good, scenario.expected, set(), None) == []

    def broken(change: Callable[[Outcome], None]) -> Outcome:
        o = Outcome.from_json(good.to_json())
        change(o)
        return o

    orphan = broken(lambda o: o.models.append(f"{TARGET.endpoint_name}-m-0000000000"))
    assert any("orphaned" in p for p in check_end(orphan, scenario.expected, set(), None))
    alarm = broken(lambda o: o.candidate_alarms.append(f"sagemaker-rollout-{TARGET.endpoint_name}-v-0000000000-5xx"))
    assert any("orphaned alarm" in p for p in check_end(alarm, scenario.expected, set(), None))
    wrong = broken(lambda o: setattr(o, "serving_label", "v1"))
    assert check_end(wrong, scenario.expected, set(), None)
    serving = good.candidates["v2"]["variant"]
    smaller = broken(lambda o: o.endpoint["instances"].__setitem__(serving, ["ml.m5.large", 2]))  # type: ignore[index]
    assert any("the target says" in p for p in check_end(smaller, scenario.expected, set(), None))
    left = broken(lambda o: o.scaling.__setitem__(f"endpoint/{TARGET.endpoint_name}/variant/v-gone", {}))
    assert any("autoscaling left" in p for p in check_end(left, scenario.expected, set(), None))

    def crashed(o: Outcome) -> None:
        o.injected = Injected(CRASH, 1, "sagemaker:UpdateEndpoint", "RolloutControllerFunction", [])
        o.crashes = 1

    def done_twice(o: Outcome) -> None:
        crashed(o)
        o.accepted.append(o.accepted[-1])

    def announcement_lost(o: Outcome) -> None:
        crashed(o)
        o.announced.pop()

    def announcement_changed(o: Outcome) -> None:
        """A milestone's text changed (its analysis snapshot is timing: as_users_see)."""
        crashed(o)
        channel, detail_type, body = json.loads(o.announced[-1])
        o.announced[-1] = json.dumps([channel, detail_type, body.replace("rollout", "r0llout")])

    assert check(broken(crashed), baseline, scenario) == []
    assert any("done twice" in p for p in check(broken(done_twice), baseline, scenario))
    assert any("announcements differ" in p for p in check(broken(announcement_lost), baseline, scenario))
    assert any("announcements differ" in p for p in check(broken(announcement_changed), baseline, scenario))
    # only the analysis snapshot is set aside
    judged = json.dumps(["events", "Rollout Rolled Back", json.dumps({"rollout_id": "r", "analysis": {"v": "PASS"}})])
    plain = json.dumps(["events", "Rollout Rolled Back", json.dumps({"rollout_id": "r"})])
    other = json.dumps(["events", "Rollout Rolled Back", json.dumps({"rollout_id": "s"})])
    assert as_users_see([judged]) == as_users_see([plain]) != as_users_see([other])


def test_only_a_rejected_first_deployment_may_skip_creating_its_endpoint(baselines: dict[str, Baseline]):
    """The exhaustive run's one departure from the fault-free changes is allowed for that
    scenario only, and only when no endpoint was ever created."""
    rejected = SCENARIOS["first_deployment_rejected"]
    outcome = Outcome.from_json(baselines[rejected.name].outcome.to_json())
    # Fault-free, the rejected first deployment creates its endpoint, then deletes it.
    assert outcome.endpoint_changes == [["create", TARGET.endpoint_name], ["delete", TARGET.endpoint_name]]
    outcome.injected = Injected("throttling", 10, "sagemaker:CreateModel", "ModelApprovalFunction", [], 4, 400, 3)
    outcome.endpoint_changes = []
    assert never_created(outcome, rejected)
    assert check(outcome, baselines[rejected.name], rejected) == []
    # The same departure anywhere else is a failure.
    other = SCENARIOS["first_deployment"]
    elsewhere = Outcome.from_json(baselines[other.name].outcome.to_json())
    elsewhere.injected, elsewhere.endpoint_changes = outcome.injected, []
    assert any("endpoint changes" in p for p in check(elsewhere, baselines[other.name], other))
    # And in that scenario, only if nothing was created.
    created = Outcome.from_json(outcome.to_json())
    created.endpoint_changes = [["create", TARGET.endpoint_name], ["config", TARGET.endpoint_name]]
    assert any("endpoint changes" in p for p in check(created, baselines[rejected.name], rejected))


def test_the_reconstructed_end_is_the_baselines_after_convergence(baselines: dict[str, Baseline]):
    baseline = baselines["second_version_to_100"]
    minute = 3
    accepted_mark, changes_mark = baseline.marks[minute - 1]
    short = Outcome.from_json(baseline.outcome.to_json())
    short.accepted = baseline.outcome.accepted[:accepted_mark]
    short.endpoint_changes = baseline.outcome.endpoint_changes[:changes_mark]
    short.converged_at = minute
    assert shortcut_differences(reconstructed(short, baseline), baseline.outcome) == []
    moved = Outcome.from_json(baseline.outcome.to_json())
    moved.serving_label = "v1"
    assert shortcut_differences(reconstructed(short, baseline), moved) == ["serving_label: v2 != v1"]


def test_the_convergence_snapshot_compares_contents_not_names():
    """A faulted run "converges" only if its state is the fault-free one in content: the serving
    variant's instance type and count, its weight, the models' containers, scaling policies and
    the milestones announced so far each make a difference (observe.snapshot)."""
    from moto.sagemaker.models import sagemaker_backends

    from rollout_core.aws.autoscaling import DIMENSION, NAMESPACE, resource_id
    from sandbox.calls import Call
    from sandbox.stack import ACCOUNT, REGION, Sandbox

    from .observe import snapshot
    from .scenarios import SCALING, SCALING_POLICY

    params = {"EndpointName": TARGET.endpoint_name, "ModelPackageGroupName": TARGET.model_package_group}
    with Sandbox(update_seconds=60, parameters=params) as sb:
        sb.put_target(TARGET.model_dump_json(), TARGET.model_package_group)
        sb.set_approval(sb.register_package(TARGET.model_package_group), "Approved")
        sb.advance(180)
        sm = sagemaker_backends[ACCOUNT][REGION]
        endpoint = sm.endpoints[TARGET.endpoint_name]
        config = sm.endpoint_configs[endpoint.endpoint_config_name]
        model = next(iter(sm._models.values()))
        before = snapshot(sb, [])

        def differs(change: Callable[[], None]) -> bool:
            change()
            return snapshot(sb, []) != before

        assert snapshot(sb, []) == before
        assert differs(lambda: config.production_variants[0].update(InstanceType="ml.c5.xlarge"))
        config.production_variants[0]["InstanceType"] = TARGET.instance_type
        assert differs(lambda: config.production_variants[0].update(InitialInstanceCount=2))
        config.production_variants[0]["InitialInstanceCount"] = TARGET.instance_count
        assert differs(lambda: endpoint.production_variants[0].update(CurrentInstanceCount=3))
        endpoint.production_variants[0]["CurrentInstanceCount"] = TARGET.instance_count
        assert differs(lambda: endpoint.production_variants[0].update(CurrentWeight=0.5))
        endpoint.production_variants[0]["CurrentWeight"] = 1.0
        assert differs(lambda: model.primary_container.update(ModelPackageName="another"))
        assert snapshot(sb, []) != before
        published = Call("f", "sns", "sns", "Publish", {"Subject": "Rollout Succeeded", "Message": "x"}, status=200)
        assert snapshot(sb, [published]) != snapshot(sb, [])
        aas = sb.client("application-autoscaling")
        target = {"ServiceNamespace": NAMESPACE, "ScalableDimension": DIMENSION}
        target["ResourceId"] = resource_id(TARGET.endpoint_name, endpoint.production_variants[0]["VariantName"])
        aas.register_scalable_target(**target, **SCALING)
        aas.put_scaling_policy(**target, **SCALING_POLICY)
        scaled = snapshot(sb, [])
        tracking = json.loads(json.dumps(SCALING_POLICY["TargetTrackingScalingPolicyConfiguration"]))
        tracking["TargetValue"] = 10.0
        aas.put_scaling_policy(**target, **{**SCALING_POLICY, "TargetTrackingScalingPolicyConfiguration": tracking})
        assert snapshot(sb, []) != scaled, "a policy's contents, not only its name"
