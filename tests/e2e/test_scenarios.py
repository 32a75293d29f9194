"""Whole scenarios on the sandbox: the built-in ones, once and with every event delivered twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.scenario_format import builtin_files, load
from sandbox.scenarios import Runner

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = builtin_files()


def test_there_are_builtin_scenarios_for_each_required_story():
    names = {p.stem for p in SCENARIOS}
    for story in (
        "first_deployment",
        "happy_path",
        "alarm_rolls_back",
        "rejection_aborts",
        "newer_approval_supersedes",
        "update_failure_keeps_baseline",
        "small_payload",
        "oversized_payload_async",
        "dataset_batch",
        "failing_async",
        "failing_transform",
        "pause_and_resume",
        "manual_promote",
        "manual_abort",
        "manual_start_earlier_version",
        "slower_then_erroring_candidates_rolled_back",  # the latency check, then the critical errors check
        "quiet_endpoint_not_enough_traffic",
        "smoke_test_fails_then_equal_candidate_passes",
        "quota_preflight_fails_before_touching",  # issue 17
        "candidate_alarm_rolls_back",
        "fallback_instance_type_takes_over",
        "sagemaker_refuses_then_fallback_type",
        "sagemaker_refuses_the_shadow_then_fallback_type",  # issues 13 and 17 together
        "failed_health_check_shows_container_log",
        "doctor_reports_a_bad_autoscaling_policy",
        "chain_dev_staging_prod",  # issue 11: environments in a chain
        "chain_rollback_and_rejection",
        "chain_two_versions_in_a_row",
        "shadow_that_errors_is_removed",  # issue 13: the shadow phase
        "shadow_passes_then_canary_succeeds",
        "operator_promotes_out_of_the_shadow",
        "alarm_during_the_shadow",
    ):
        assert any(story in n for n in names), story


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_builtin_scenario_passes_and_every_event_delivered_twice_changes_nothing(path: Path):
    once = Runner(load(path)).run()
    assert once.passed, "\n".join(once.failures)
    twice = Runner(load(path), deliver_each=2).run()
    assert twice.passed, "\n".join(twice.failures)
    strip = lambda rs: [{k: v for k, v in r.items() if k != "rollout_id"} for r in rs]  # noqa: E731
    assert strip(twice.rollouts) == strip(once.rollouts)  # phases, reasons and full histories
    assert twice.endpoint_changes == once.endpoint_changes  # no endpoint change made twice
    assert twice.final_weights == once.final_weights


def test_a_failing_expectation_fails_the_run(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: wrong on purpose\nsteps:\n  - approve: v1\n  - wait: 3m\n  - expect: {rollout: v1, phase: ROLLED_BACK}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "sandbox", "run", str(bad)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1
    assert "v1 is SUCCEEDED, expected ROLLED_BACK" in proc.stdout


def test_cli_json_output_lists_timeline_and_rollouts():
    import json

    proc = subprocess.run(
        [sys.executable, "-m", "sandbox", "run", str(SCENARIOS[0]), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)
    assert result["passed"] is True
    assert result["timeline"] and result["rollouts"][0]["phase"] == "SUCCEEDED"
