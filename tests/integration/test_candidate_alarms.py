"""The candidate's own guard alarms (issue 17) through the real CloudWatch client, on moto."""

from __future__ import annotations

from rollout_core.alarm_spec import CandidateAlarms
from rollout_core.aws.alarms import AlarmGateway
from rollout_core.aws.clients import client
from rollout_core.models import DeleteCandidateAlarms, PutCandidateAlarms
from sandbox.stack import Sandbox

NAMES = {m: f"sagemaker-rollout-churn-endpoint-v-abc-{m}" for m in ("5xx", "latency_p99", "memory")}
PUT = PutCandidateAlarms(
    endpoint_name="churn-endpoint",
    variant_name="v-abc",
    alarms=NAMES,
    spec=CandidateAlarms(metrics=["5xx", "latency_p99", "memory"], thresholds={"latency_p99": 250}),
)


def test_put_on_the_variants_own_metrics_ok_without_data_then_deleted_even_with_one_gone(stack: Sandbox):
    cw = client("cloudwatch")
    gateway = AlarmGateway(cw)
    gateway.execute(PUT)
    alarms = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNames=sorted(NAMES.values()))["MetricAlarms"]}
    assert set(alarms) == set(NAMES.values())
    variant = [{"Name": "EndpointName", "Value": "churn-endpoint"}, {"Name": "VariantName", "Value": "v-abc"}]
    rate = alarms[NAMES["5xx"]]
    assert {q["Id"]: q.get("Expression") for q in rate["Metrics"]} == {
        "errors": None,
        "invocations": None,
        "rate": "100 * errors / invocations",
    }
    assert rate["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"] == variant
    assert (rate["Threshold"], rate["TreatMissingData"], rate["EvaluationPeriods"], rate["DatapointsToAlarm"]) == (
        1.0,
        "notBreaching",
        3,
        2,
    )
    latency = alarms[NAMES["latency_p99"]]
    assert (latency["MetricName"], latency["ExtendedStatistic"], latency["Threshold"]) == (
        "ModelLatency",
        "p99",
        250_000,
    )
    assert latency["Dimensions"] == variant
    memory = alarms[NAMES["memory"]]
    assert (memory["Namespace"], memory["MetricName"], memory["Threshold"]) == (
        "/aws/sagemaker/Endpoints",
        "MemoryUtilization",
        90.0,
    )
    assert {a["StateValue"] for a in alarms.values()} == {"INSUFFICIENT_DATA"}  # a new alarm's first state
    stack.advance(60)  # no data, treated as not breaching: OK after a period
    states = cw.describe_alarms(AlarmNames=sorted(NAMES.values()))["MetricAlarms"]
    assert {a["StateValue"] for a in states} == {"OK"}

    stack.set_alarm(NAMES["5xx"], "ALARM")
    gateway.execute(PUT)  # put again (a repeated decision): the state is left as it is
    assert cw.describe_alarms(AlarmNames=[NAMES["5xx"]])["MetricAlarms"][0]["StateValue"] == "ALARM"

    cw.delete_alarms(AlarmNames=[NAMES["memory"]])  # gone already (by hand, or a crash after a delete)
    gateway.execute(DeleteCandidateAlarms(names=sorted(NAMES.values())))
    assert cw.describe_alarms(AlarmNames=sorted(NAMES.values()))["MetricAlarms"] == []
    gateway.execute(DeleteCandidateAlarms(names=sorted(NAMES.values())))  # and again: nothing to do
