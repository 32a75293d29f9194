"""The latest analyses as EMF metrics (judging.Judges.published): the dashboard's canary and shadow widgets."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from rollout_core import machine
from rollout_core.canary_models import AnalysisReport, CheckResult, ShadowRecord
from rollout_core.judging import ANALYSIS_METRICS, Judges

from .world import PACKAGE, T0, target


def report(at, baseline: float, candidate: float, score: float | None) -> AnalysisReport:
    checks = [
        CheckResult(name="errors", verdict="PASS", critical=True, baseline=baseline, candidate=candidate),
        CheckResult(name="latency", verdict="INCONCLUSIVE", critical=False),  # inconclusive: no values, nothing emitted
    ]
    return AnalysisReport(
        at=at, step=0, step_percent=10, window_start=at, window_end=at, verdict="PASS", score=score, pass_score=75,
        checks=checks,
    )  # fmt: skip


def emitted(capsys: pytest.CaptureFixture[str]) -> list[tuple[dict[str, str], dict[str, list[float]]]]:
    """(dimensions, metric values) of each EMF document printed (Powertools writes values as lists)."""
    found = []
    for line in capsys.readouterr().out.splitlines():
        doc = json.loads(line)
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        names = [m["Name"] for m in directive["Metrics"]]
        dimensions = {d: doc[d] for group in directive["Dimensions"] for d in group}
        found.append((dimensions, {n: doc[n] for n in names}))
    return found


@pytest.fixture(autouse=True)
def _namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "SageMakerRollout")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "sagemaker-rollout")


def test_the_canary_and_the_shadow_analyses_of_this_decision_are_published(capsys: pytest.CaptureFixture[str]):
    rollout = machine.new_rollout(target(), PACKAGE, T0)
    rollout = rollout.model_copy(
        update={
            "analysis": report(T0, 0.5, 2.5, 80.0),
            "shadow": ShadowRecord(sampling_percent=20, analysis=report(T0, 1.0, 3.0, None)),
        }
    )
    Judges.published(rollout, T0)
    endpoint = {"endpoint": "churn", "service": "sagemaker-rollout"}
    assert emitted(capsys) == [
        ({**endpoint, "check": "errors"}, {"CanaryBaseline": [0.5], "CanaryCandidate": [2.5]}),
        (endpoint, {"CanaryScore": [80.0]}),
        ({**endpoint, "check": "errors"}, {"ShadowProduction": [1.0], "ShadowCandidate": [3.0]}),
    ]


def test_an_analysis_of_an_earlier_decision_is_not_published_again(capsys: pytest.CaptureFixture[str]):
    rollout = machine.new_rollout(target(), PACKAGE, T0)
    earlier = T0 - timedelta(minutes=1)
    rollout = rollout.model_copy(
        update={
            "analysis": report(earlier, 0.5, 2.5, 80.0),
            "shadow": ShadowRecord(sampling_percent=20, analysis=report(earlier, 1.0, 3.0, 90.0)),
        }
    )
    Judges.published(rollout, T0)
    assert emitted(capsys) == []


def test_every_analysis_metric_name_is_distinct():
    names = [name for metric in ANALYSIS_METRICS.values() for name in metric]
    assert len(names) == len(set(names)) == 6
