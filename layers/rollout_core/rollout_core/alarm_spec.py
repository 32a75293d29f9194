"""The candidate variant's own guard alarms: which metrics, which thresholds (a target's schema part).

What each metric measures ("Amazon SageMaker AI metrics in Amazon CloudWatch"): invocation
metrics in ``AWS/SageMaker`` and instance metrics in ``/aws/sagemaker/Endpoints``, both per
``EndpointName`` and ``VariantName``, one datapoint a minute. aws/alarms.py turns them into
PutMetricAlarm requests.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CandidateMetric = Literal["5xx", "4xx", "latency_p99", "cpu", "gpu", "memory", "disk"]
# Default thresholds of the candidate's own alarms (alarms.py says what each one measures).
CANDIDATE_ALARM_DEFAULTS: dict[str, float] = {
    "5xx": 1.0,  # % of the candidate's invocations answered 5XX
    "4xx": 5.0,  # % answered 4XX
    "latency_p99": 1000.0,  # ModelLatency p99, milliseconds
    "cpu": 90.0,  # CPUUtilization, % (summed over cores: up to 100 x cores)
    "gpu": 90.0,  # GPUUtilization, % (summed over GPUs)
    "memory": 90.0,  # MemoryUtilization, %
    "disk": 90.0,  # DiskUtilization, %
}


# What a target with no guard alarm at all gets.
DEFAULT_METRICS: tuple[CandidateMetric, ...] = ("5xx", "latency_p99")


class CandidateAlarms(BaseModel):
    """Guard alarms the rollout creates on the candidate variant's own metrics, and deletes after."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metrics: list[CandidateMetric] = Field(default_factory=lambda: list(DEFAULT_METRICS), max_length=7)
    thresholds: dict[CandidateMetric, float] = Field(default_factory=dict)  # over CANDIDATE_ALARM_DEFAULTS
    # An alarm fires when ``datapoints`` of the last ``evaluation_minutes`` one-minute periods breach.
    evaluation_minutes: int = Field(default=3, ge=1, le=60)
    datapoints: int = Field(default=2, ge=1, le=60)

    @model_validator(mode="after")
    def _datapoints_within_periods(self) -> CandidateAlarms:
        if self.datapoints > self.evaluation_minutes:
            raise ValueError("datapoints must not exceed evaluation_minutes")
        return self

    def threshold(self, metric: str) -> float:
        return float(self.thresholds.get(metric, CANDIDATE_ALARM_DEFAULTS[metric]))  # type: ignore[call-overload]
