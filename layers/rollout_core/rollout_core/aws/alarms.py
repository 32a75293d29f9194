"""CloudWatch: the state of the guard alarms, and the candidate variant's own alarms."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..models import AlarmState, DeleteCandidateAlarms, PutCandidateAlarms

DESCRIBE_ALARMS_LIMIT = 100  # DescribeAlarms takes at most 100 names


@dataclass
class AlarmReadings:
    """Per alarm name: its state, CloudWatch's StateReason, and when it entered that state."""

    states: dict[str, AlarmState] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    since: dict[str, datetime] = field(default_factory=dict)  # StateUpdatedTimestamp


class AlarmGateway:
    def __init__(self, client: Any) -> None:
        self._cw = client

    def states(self, names: Iterable[str]) -> dict[str, AlarmState]:
        """Current state per alarm name; an alarm that does not exist is left out."""
        return self.read(names).states

    def read(self, names: Iterable[str]) -> AlarmReadings:
        """The alarms' readings, in one DescribeAlarms call per 100 names (missing alarms left out)."""
        wanted = sorted(set(names))
        readings = AlarmReadings()
        for start in range(0, len(wanted), DESCRIBE_ALARMS_LIMIT):
            chunk = wanted[start : start + DESCRIBE_ALARMS_LIMIT]
            paginator = self._cw.get_paginator("describe_alarms")
            for page in paginator.paginate(AlarmNames=chunk, AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
                for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                    name = alarm["AlarmName"]
                    readings.states[name] = AlarmState(alarm["StateValue"])
                    readings.reasons[name] = str(alarm.get("StateReason", ""))
                    if alarm.get("StateUpdatedTimestamp") is not None:
                        readings.since[name] = alarm["StateUpdatedTimestamp"]
        return readings

    # --- the candidate variant's own alarms -------------------------------------------------

    def execute(self, action: PutCandidateAlarms | DeleteCandidateAlarms) -> None:
        if isinstance(action, PutCandidateAlarms):
            for metric, name in sorted(action.alarms.items()):
                self._cw.put_metric_alarm(**candidate_alarm(action, metric, name))
        else:
            existing = set(self.read(action.names).states)  # DeleteAlarms fails on a missing name
            gone = sorted(existing & set(action.names))
            for start in range(0, len(gone), DESCRIBE_ALARMS_LIMIT):
                self._cw.delete_alarms(AlarmNames=gone[start : start + DESCRIBE_ALARMS_LIMIT])


# Invocation metrics are in AWS/SageMaker, instance metrics in /aws/sagemaker/Endpoints, both per
# EndpointName and VariantName, one datapoint a minute ("Amazon SageMaker AI metrics in Amazon
# CloudWatch"); ModelLatency is in microseconds; CPUUtilization and GPUUtilization are summed
# over cores and GPUs (0-100 % each).
_ERROR_RATES = {"5xx": "Invocation5XXErrors", "4xx": "Invocation4XXErrors"}
_INSTANCE_METRICS = {
    "cpu": "CPUUtilization",
    "gpu": "GPUUtilization",
    "memory": "MemoryUtilization",
    "disk": "DiskUtilization",
}
PERIOD_SECONDS = 60


def candidate_alarm(action: PutCandidateAlarms, metric: str, name: str) -> dict[str, Any]:
    """The PutMetricAlarm request of one of the candidate's alarms.

    Missing data is not breaching ("Configuring how CloudWatch alarms treat missing data"): a
    candidate at weight 0, or between requests, has no invocations and must not hold a step.
    No AlarmActions: the stack's EventBridge rule on AlarmNamePrefix is what acts.
    """
    spec = action.spec
    threshold = spec.threshold(metric)
    dimensions = [
        {"Name": "EndpointName", "Value": action.endpoint_name},
        {"Name": "VariantName", "Value": action.variant_name},
    ]
    request: dict[str, Any] = {
        "AlarmName": name,
        "AlarmDescription": (
            f"sagemaker-rollout: {metric} of candidate variant {action.variant_name} on {action.endpoint_name} "
            f"(> {threshold:g}); made and deleted by its rollout"
        ),
        "EvaluationPeriods": spec.evaluation_minutes,
        "DatapointsToAlarm": spec.datapoints,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "ActionsEnabled": False,
    }
    if metric in _ERROR_RATES:

        def stat(query_id: str, metric_name: str) -> dict[str, Any]:
            return {
                "Id": query_id,
                "ReturnData": False,
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric_name, "Dimensions": dimensions},
                    "Period": PERIOD_SECONDS,
                    "Stat": "Sum",
                },
            }

        request["Metrics"] = [
            stat("errors", _ERROR_RATES[metric]),
            stat("invocations", "Invocations"),
            {"Id": "rate", "Expression": "100 * errors / invocations", "Label": f"{metric} %", "ReturnData": True},
        ]
        request["Threshold"] = threshold
        return request
    request.update({"Dimensions": dimensions, "Period": PERIOD_SECONDS})
    if metric == "latency_p99":
        request.update(
            {"Namespace": "AWS/SageMaker", "MetricName": "ModelLatency", "ExtendedStatistic": "p99"},
            Threshold=threshold * 1000,  # milliseconds -> microseconds
        )
    else:
        request.update(
            {"Namespace": "/aws/sagemaker/Endpoints", "MetricName": _INSTANCE_METRICS[metric], "Statistic": "Average"},
            Threshold=threshold,
        )
    return request
