"""Judging the candidate on moto (issue 12): the sandbox's per-variant metrics and percentiles
(sandbox/cloudwatch_ext.py, sandbox/traffic_ext.py), and the analysis in the rollout API's view."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.stack import Sandbox

from .helpers import register, rollout_for, serving

ENDPOINT = "churn-endpoint"


def _read(stack: Sandbox, namespace: str, name: str, dims: dict[str, str], stat: str, minutes: int) -> list[float]:
    answer = stack.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                    },
                    "Period": 60,
                    "Stat": stat,
                },
            }
        ],
        StartTime=stack.now - timedelta(minutes=minutes),
        EndTime=stack.now,
        ScanBy="TimestampAscending",
    )
    values: list[float] = answer["MetricDataResults"][0]["Values"]
    return values


def test_minutes_the_clock_jumped_over_are_published_before_a_read(stack: Sandbox):
    """The sandbox's SageMaker catches up before GetMetricData answers (fails without
    MetricStore.before_read: the five minutes after the jump read as no data)."""
    (v1,) = register(stack, 1)
    stack.set_approval(v1, "Approved")
    stack.advance(300)
    variant = rollout_for(v1).candidate.variant_name
    assert serving(stack) == {variant: 100}
    stack.now += timedelta(minutes=5)  # no advance(): nothing published on the way
    dims = {"EndpointName": ENDPOINT, "VariantName": variant}
    assert _read(stack, "AWS/SageMaker", "Invocations", dims, "Sum", 5) == [1200.0] * 5  # 20 rps
    assert len(_read(stack, "AWS/SageMaker", "ModelLatency", dims, "p90", 5)) == 5


def test_percentiles_are_nearest_rank_over_raw_values_and_aws_namespaces_are_refused(stack: Sandbox):
    """moto 5.2.5 raises on pNN statistics; the sandbox keeps the raw values (Values/Counts)."""
    cw = stack.client("cloudwatch")
    cw.put_metric_data(
        Namespace="Churn/Model",
        MetricData=[
            {
                "MetricName": "Score",
                "Dimensions": [{"Name": "Variant", "Value": "a"}],
                "Timestamp": stack.now - timedelta(seconds=90),
                "Values": [float(v) for v in range(1, 11)],
                "Counts": [1.0] * 10,
            }
        ],
    )
    dims = {"Variant": "a"}
    assert _read(stack, "Churn/Model", "Score", dims, "p90", 3) == [9.0]
    assert _read(stack, "Churn/Model", "Score", dims, "p50", 3) == [5.0]
    assert _read(stack, "Churn/Model", "Score", dims, "Average", 3) == [5.5]
    with pytest.raises(ClientError, match="AWS/ is reserved"):
        cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=[{"MetricName": "Invocations", "Value": 1.0}])


def _view(stack: Sandbox, rollout_id: str) -> dict[str, Any]:
    response = stack.api("GET", f"/v1/rollouts/{rollout_id}", None, {})
    assert response["statusCode"] == 200
    view: dict[str, Any] = json.loads(response["body"])
    return view


def test_the_rollout_view_shows_the_smoke_test_and_the_latest_analysis_with_its_numbers(stack: Sandbox):
    v1, v2 = register(stack, 2)
    stack.set_approval(v1, "Approved")
    stack.advance(180)
    stack.set_approval(v2, "Approved")
    stack.advance(540)
    view = _view(stack, rollout_for(v2).rollout_id)
    assert view["step_percent"] == 50  # the 10 % step baked and its analysis passed
    assert view["smoke_test"]["outcome"] == "skipped"  # the packages carry no sample payloads
    analysis = view["analysis"]
    assert (analysis["step_percent"], analysis["verdict"], analysis["score"]) == (10, "PASS", 100.0)
    checks = {c["name"]: c for c in analysis["checks"]}
    assert set(checks) == {"errors", "latency"}
    assert checks["errors"]["data"] == "5400 vs 600 invocations"  # 20 rps x 5 minutes, 90/10
    assert (checks["errors"]["baseline"], checks["errors"]["candidate"]) == (0.0, 0.0)
    latency = checks["latency"]
    assert latency["verdict"] == "PASS" and latency["data"] == "5 vs 5 minutes"
    assert 100 < latency["baseline"] < 160 and 100 < latency["candidate"] < 160  # p90 ms of a 100 ms median
    assert latency["p_value"] is not None and latency["difference"] is not None
    judged = [h for h in view["history"] if h["event"] == "analysis"]
    assert judged[-1]["observations"]["analysis"]["verdict"] == "PASS"
