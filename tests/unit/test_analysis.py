"""Canary analysis during each bake (rollout_core/analysis.py), driven through decide()."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from rollout_core import analysis, machine, metric_queries
from rollout_core.canary_models import MetricData, Verdict
from rollout_core.models import AlarmState, Phase

from .world import BASELINE, PACKAGE, Traffic, World, step, target


def start(world: World, **plan: Any):
    world.alarms = {"churn-5xx": AlarmState.OK}
    return machine.new_rollout(target(**plan), PACKAGE, world.now)


def run(world: World, rollout, until=None, max_steps: int = 400):
    for _ in range(max_steps):
        rollout = step(world, rollout)
        if rollout.phase.terminal or (until is not None and until(rollout)):
            return rollout
        world.now += timedelta(seconds=60)
        world.complete()
    raise AssertionError(f"stuck in {rollout.phase}")


def baking(percent: int):
    return lambda r: r.phase is Phase.BAKING and r.current_step_percent == percent


def events(rollout, name: str):
    return [h for h in rollout.history if h.event == name]


def test_an_equal_candidate_passes_every_step_and_each_verdict_is_in_the_history():
    world = World()
    rollout = run(world, start(world))
    assert rollout.phase is Phase.SUCCEEDED
    verdicts = [h for h in events(rollout, "analysis") if "PASS" in h.reason.split(":")[1]]
    assert {h.step for h in verdicts} == {0, 1}, "a PASS at 10 % and at 50 %"
    numbers = verdicts[-1].observations["analysis"]
    assert {c["name"] for c in numbers["checks"]} == {"errors", "latency"}
    assert all(c["baseline"] is not None and c["p_value"] is not None for c in numbers["checks"])
    shifts = [h.reason for h in rollout.history if h.event.startswith("shifting to 50")]
    assert shifts == ["step baked with guard alarms OK; canary analysis PASS, score 100 >= 75"]
    promoting = next(h.reason for h in rollout.history if h.event == "promoting")
    assert "no canary analysis at 100 %" in promoting


def test_one_metric_read_per_decision_bounded_to_the_steps_whole_minutes():
    world = World()
    rollout = run(world, start(world, bake=300), until=baking(10))
    started = rollout.step_started_at
    for _ in range(3):
        world.now += timedelta(seconds=90)
        rollout = step(world, rollout)
    reads = world.metric_reads
    assert len(reads) == 3
    for read in reads:
        assert read.start == started.replace(second=0) + (timedelta(minutes=1) if started.second else timedelta(0))
        assert read.end == read.start.replace() + (read.end - read.start)
        assert read.end.second == 0 and read.end <= world.now
        assert {q.id for q in read.queries} == {"inv_b", "e5_b", "lat_b", "inv_c", "e5_c", "lat_c"}
        assert {q.dimensions["VariantName"] for q in read.queries} == {
            BASELINE.variant_name,
            rollout.candidate.variant_name,
        }
    assert reads[-1].end == world.now.replace(second=0)


def test_a_forty_percent_slower_candidate_is_rolled_back_by_the_latency_check_with_both_latencies():
    world = World()
    world.candidate_traffic = Traffic(latency_ms=140)
    rollout = run(world, start(world))
    assert rollout.phase is Phase.ROLLED_BACK
    assert "canary analysis failed at 10% (score 0 < 75)" in rollout.reason
    assert re.search(r"candidate 140\.\d ms vs baseline 100\.\d ms \(medians, \+40\.0 %\)", rollout.reason)
    assert world.serving_models() == {BASELINE.model_name: 100}
    report = rollout.analysis
    assert report is not None and report.verdict is Verdict.FAIL
    latency = next(c for c in report.checks if c.name == "latency")
    assert latency.verdict is Verdict.FAIL and latency.difference == 40.0 and latency.p_value < 0.05
    (milestone,) = [n for n in world.announced if n.milestone == "rolled_back"]
    assert "latency ModelLatency p90 per minute: candidate 140" in milestone.detail["text"]
    judged = milestone.detail["analysis"]
    assert (judged["verdict"], judged["step_percent"], judged["score"]) == ("FAIL", 10, 0.0)
    (failing,) = judged["checks"]  # the failing check only, with its numbers
    assert failing["name"] == "latency" and failing["verdict"] == "FAIL"
    assert (failing["baseline"], failing["candidate"], failing["difference"]) == (
        latency.baseline,
        latency.candidate,
        40.0,
    )


def test_a_slower_candidate_within_the_tolerance_passes():
    world = World()
    world.candidate_traffic = Traffic(latency_ms=105)
    assert run(world, start(world)).phase is Phase.SUCCEEDED


def test_twice_the_error_rate_rolls_back_at_once_on_the_critical_check():
    world = World()
    world.baseline_traffic = Traffic(errors=10)
    world.candidate_traffic = Traffic(errors=20)
    rollout = run(world, start(world, bake=600), until=baking(10))
    baking_since = rollout.step_started_at
    rollout = run(world, rollout)
    assert rollout.phase is Phase.ROLLED_BACK
    rolled = events(rollout, "rolling back")[0]
    assert rolled.at - baking_since < timedelta(seconds=600), "before the end of the bake"
    assert "critical check errors" in rollout.reason
    assert "candidate 2.00 % (20/1000) vs baseline 1.00 % (10/1000)" in rollout.reason
    assert "rolled_back" in world.notes


def test_a_quiet_endpoint_holds_as_inconclusive_then_fails_for_want_of_traffic():
    world = World()
    world.baseline_traffic = Traffic(invocations=0)
    world.candidate_traffic = Traffic(invocations=0)
    rollout = run(world, start(world, bake=300, max_duration_seconds=1800), until=baking(10))
    rollout = run(world, rollout, until=lambda r: r.analysis is not None and r.analysis.holding_since is not None)
    assert rollout.phase is Phase.BAKING and rollout.current_step_percent == 10
    holding = events(rollout, "holding")
    assert len(holding) == 1 and holding[0].reason.startswith("not enough traffic to judge")
    for _ in range(3):  # still holding: nothing new recorded
        world.now += timedelta(seconds=60)
        rollout = step(world, rollout)
    assert len(events(rollout, "holding")) == 1 and rollout.phase is Phase.BAKING
    rollout = run(world, rollout)
    assert rollout.phase is Phase.FAILED
    assert rollout.reason.startswith("not enough traffic to judge at 10%")
    assert "0 baseline and 0 candidate invocations" in rollout.reason
    assert "max duration" in rollout.reason
    assert world.serving_models() == {BASELINE.model_name: 100}
    (milestone,) = [n for n in world.announced if n.milestone == "failed"]
    assert milestone.detail["analysis"]["verdict"] == "INCONCLUSIVE"
    assert {c["name"] for c in milestone.detail["analysis"]["checks"]} == {"errors", "latency"}
    assert milestone.detail["analysis"]["checks"][0]["data"] == "0 vs 0 invocations"


def test_traffic_that_comes_back_ends_the_hold():
    world = World()
    world.candidate_traffic = Traffic(invocations=0)
    rollout = run(world, start(world, bake=300), until=lambda r: r.analysis is not None and r.analysis.holding_since)
    world.candidate_traffic = Traffic(invocations=1000)
    rollout = run(world, rollout)
    assert rollout.phase is Phase.SUCCEEDED


def test_a_shell_that_reads_no_metrics_never_advances_an_analysed_step():
    world = World()
    rollout = run(world, start(world, bake=300), until=baking(10))
    world.judging = False
    for _ in range(15):
        world.now += timedelta(seconds=60)
        rollout = step(world, rollout)
    assert rollout.phase is Phase.BAKING and rollout.current_step_percent == 10
    world.judging = True
    world.now += timedelta(seconds=60)
    assert step(world, rollout).phase is Phase.SHIFTING


def test_a_critical_failure_rolls_back_a_paused_rollout_too():
    from rollout_core import commands

    world = World()
    rollout = run(world, start(world), until=baking(10))
    rollout = commands.command(rollout, "pause", world.now)
    world.candidate_traffic = Traffic(errors=100)
    world.now += timedelta(seconds=120)
    assert step(world, rollout).phase is Phase.ROLLING_BACK


def custom(name: str, **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "namespace": "Churn/Model",
        "metric_name": name,
        "dimensions": {"Endpoint": "{endpoint}", "Variant": "{variant}"},
        **extra,
    }


def test_custom_metrics_fill_their_placeholders_and_combine_into_the_score():
    world = World()
    plan = {
        "analysis": {
            "errors": {"enabled": False},
            "latency": {"enabled": False},
            "metrics": [custom("accuracy", direction="lower"), custom("cost")],
        }
    }
    rollout = run(world, start(world, **plan), until=baking(10))
    world.now += timedelta(minutes=6)
    wanted = analysis.request(rollout, world.now)
    assert wanted is not None
    dims = {q.id: q.dimensions for q in wanted.queries if q.id.startswith("m")}
    assert dims["m0_c"] == {"Endpoint": "churn", "Variant": rollout.candidate.variant_name}
    assert dims["m1_b"] == {"Endpoint": "churn", "Variant": BASELINE.variant_name}

    def data(accuracy: tuple[float, float], cost: tuple[float, float]) -> MetricData:
        series = {}
        for key, (base, cand) in (("m0", accuracy), ("m1", cost)):
            for side, value in (("b", base), ("c", cand)):
                series[f"{key}_{side}"] = [(wanted.start + timedelta(minutes=m), value + m / 100) for m in range(6)]
        return MetricData(start=wanted.start, end=wanted.end, series=series)

    worse_accuracy = analysis.judge(rollout, data((0.9, 0.7), (1.0, 1.0)), world.now)
    assert [(c.name, c.verdict) for c in worse_accuracy.checks] == [("accuracy", Verdict.FAIL), ("cost", Verdict.PASS)]
    assert worse_accuracy.score == 50 and worse_accuracy.verdict is Verdict.FAIL
    better_accuracy = analysis.judge(rollout, data((0.7, 0.9), (1.0, 1.0)), world.now)
    assert better_accuracy.verdict is Verdict.PASS and better_accuracy.score == 100
    lenient = rollout.model_copy(
        update={
            "target": rollout.target.model_copy(
                update={
                    "plan": rollout.target.plan.model_copy(
                        update={"analysis": rollout.target.plan.analysis.model_copy(update={"pass_score": 50.0})}
                    )
                }
            )
        }
    )
    assert analysis.judge(lenient, data((0.9, 0.7), (1.0, 1.0)), world.now).verdict is Verdict.PASS


def test_4xx_count_as_errors_only_when_asked():
    world = World()
    rollout = run(world, start(world, analysis={"errors": {"include_4xx": True}}), until=baking(10))
    world.now += timedelta(minutes=6)
    wanted = analysis.request(rollout, world.now)
    assert wanted is not None and {"e4_b", "e4_c"} <= {q.id for q in wanted.queries}
    series = {
        "inv_b": [(wanted.start, 1000.0)],
        "e5_b": [(wanted.start, 0.0)],
        "e4_b": [(wanted.start, 0.0)],
        "inv_c": [(wanted.start, 1000.0)],
        "e5_c": [(wanted.start, 0.0)],
        "e4_c": [(wanted.start, 50.0)],
    }
    report = analysis.judge(rollout, MetricData(start=wanted.start, end=wanted.end, series=series), world.now)
    errors = next(c for c in report.checks if c.name == "errors")
    assert errors.verdict is Verdict.FAIL and errors.candidate == 5.0 and "5XX and 4XX" in errors.detail


def test_the_window_is_capped_to_a_day_and_empty_before_a_whole_minute():
    world = World()
    rollout = run(world, start(world, bake=300), until=baking(10))
    assert rollout.step_started_at is not None
    assert analysis.request(rollout, rollout.step_started_at + timedelta(seconds=30)) is None
    late = analysis.request(rollout, rollout.step_started_at + timedelta(days=3))
    assert late is not None and late.end - late.start == timedelta(minutes=metric_queries.MAX_WINDOW_MINUTES)


def test_disabled_analysis_reads_nothing():
    world = World()
    world.candidate_traffic = Traffic(latency_ms=300, errors=500)
    rollout = run(world, start(world, analysis={"enabled": False}))
    assert rollout.phase is Phase.SUCCEEDED and world.metric_reads == []
