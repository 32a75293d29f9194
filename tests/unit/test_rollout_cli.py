"""``rollout status``: the canary analysis table, the smoke test, and ``--exit-code`` (issue 12).

The view is built from the core's own models (what GET /v1/rollouts/{id} returns), and the
client is a stand-in that answers with it: no API, no AWS."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.console import Console

from rollout_client import rollout_cli
from rollout_core.canary_models import AnalysisReport, CheckResult, SmokeTestRecord, Verdict

AT = datetime(2026, 11, 20, 9, 12, tzinfo=UTC)


def _report(latency: Verdict, holding: bool = False) -> AnalysisReport:
    return AnalysisReport(
        at=AT,
        step=0,
        step_percent=10,
        window_start=datetime(2026, 11, 20, 9, 7, tzinfo=UTC),
        window_end=AT,
        verdict=latency,
        score=0.0 if latency is Verdict.FAIL else None,
        pass_score=75,
        holding_since=AT if holding else None,
        checks=[
            CheckResult(
                name="errors",
                verdict=Verdict.PASS,
                critical=True,
                baseline=1.0,
                candidate=1.1,
                difference=0.1,
                p_value=0.41,
                data="5400 vs 600 invocations",
                detail="5XX error rate: candidate 1.10 % (66/600) vs baseline 1.00 % (54/5400)",
            ),
            CheckResult(
                name="latency",
                verdict=latency,
                critical=False,
                baseline=None if latency is Verdict.INCONCLUSIVE else 129.2,
                candidate=None if latency is Verdict.INCONCLUSIVE else 181.4,
                difference=None if latency is Verdict.INCONCLUSIVE else 40.4,
                p_value=None if latency is Verdict.INCONCLUSIVE else 0.004,
                data="5 vs 5 minutes",
                detail="ModelLatency p90 per minute: candidate 181.4 ms vs baseline 129.2 ms (medians, +40.4 %)"
                if latency is Verdict.FAIL
                else "not enough data: 2 baseline and 2 candidate minutes of ModelLatency p90 (at least 5 each)",
            ),
        ],
    )


def _view(phase: str, report: AnalysisReport | None, smoke: SmokeTestRecord | None = None) -> dict[str, Any]:
    return {
        "rollout_id": "0123456789",
        "endpoint": "churn-endpoint",
        "model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/2",
        "phase": phase,
        "step_percent": 10,
        "steps": [10, 50, 100],
        "paused": False,
        "reason": "why",
        "baseline_variant": "v-base",
        "candidate_variant": "v-cand",
        "live": {"endpoint_status": "InService", "weights": {"v-base": 90, "v-cand": 10}, "alarms": {}},
        "smoke_test": smoke.model_dump(mode="json") if smoke else None,
        "analysis": report.model_dump(mode="json") if report else None,
        "history": [],
    }


class _Client:
    def __init__(self, view: dict[str, Any]) -> None:
        self.view = view

    def rollout(self, rollout_id: str) -> dict[str, Any]:
        return self.view


def _status(view: dict[str, Any], *flags: str) -> tuple[int, str]:
    args = argparse.Namespace(rollout_id="0123456789", json=False, watch="--watch" in flags, interval=0.0)
    args.exit_code = "--exit-code" in flags
    out = Console(record=True, width=200, force_terminal=False)
    code = rollout_cli.status(args, _Client(view), out)  # type: ignore[arg-type]
    return code, out.export_text()


def test_status_shows_the_latest_analysis_as_a_table_with_the_numbers_and_why_it_failed():
    _, text = _status(_view("ROLLING_BACK", _report(Verdict.FAIL)))
    assert "canary analysis at 10%: FAIL, score 0 (pass 75), minutes 09:07-09:12" in text
    latency = next(line for line in text.splitlines() if "latency" in line and "FAIL" in line)
    for shown in ("129.2 ms", "181.4 ms", "+40.4 %", "0.004", "5 vs 5 minutes"):
        assert shown in latency, (shown, latency)
    errors = next(line for line in text.splitlines() if "errors (critical)" in line)
    for shown in ("1 %", "1.1 %", "+0.1 pt", "0.41", "5400 vs 600 invocations", "PASS"):
        assert shown in errors, (shown, errors)
    assert "latency FAIL: ModelLatency p90 per minute: candidate 181.4 ms vs baseline 129.2 ms" in text


def test_status_says_an_inconclusive_step_holds_and_what_data_is_missing():
    _, text = _status(_view("BAKING", _report(Verdict.INCONCLUSIVE, holding=True)))
    assert "canary analysis at 10%: INCONCLUSIVE" in text
    assert "holding since 2026-11-20T09:12:00: not enough data to judge, the bake extends" in text
    assert "latency INCONCLUSIVE: not enough data: 2 baseline and 2 candidate minutes" in text


def test_status_shows_the_smoke_test_and_no_analysis_table_before_one():
    smoke = SmokeTestRecord(
        requested_at=AT, outcome="failed", reason="1 of 3 samples failed: sample rows-1.csv: HTTP 500"
    )
    _, text = _status(_view("ROLLING_BACK", None, smoke))
    assert "smoke test  failed: 1 of 3 samples failed: sample rows-1.csv: HTTP 500" in text
    assert "canary analysis" not in text


@pytest.mark.parametrize(
    ("phase", "code"),
    [
        ("SUCCEEDED", 0),
        ("ROLLED_BACK", 4),
        ("FAILED", 4),
        ("ABORTED", 4),
        ("SUPERSEDED", 4),
        ("BAKING", 3),
        ("PROVISIONING", 3),
    ],
)
def test_exit_code_tells_ci_whether_the_rollout_succeeded(phase: str, code: int):
    assert _status(_view(phase, None), "--exit-code")[0] == code
    assert _status(_view(phase, None))[0] == 0, "without --exit-code, showing the status succeeded"


def test_watch_with_exit_code_answers_for_the_rollouts_end():
    assert _status(_view("ROLLED_BACK", _report(Verdict.FAIL)), "--watch", "--exit-code")[0] == 4
