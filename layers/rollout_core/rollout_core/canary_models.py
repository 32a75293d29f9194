"""Schemas of judging a candidate: the smoke test and the canary analysis (pydantic, no logic).

What the target asks for (``plan.smoke_test``, ``plan.analysis``), what the shell gathers
(``MetricRequest`` -> ``MetricData``; ``RunSmokeTest`` -> ``SmokeResult``), and what is kept
on the rollout (``SmokeTestRecord``, ``AnalysisReport``). The logic is in smoke.py and
analysis.py; the statistics in stats.py.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# CloudWatch statistics the analysis asks for (MetricStat.Stat): the basic ones and pNN.NN.
PERCENTILE_PATTERN = r"^p(100|[1-9]?[0-9](\.[0-9]{1,2})?)$"
STATISTIC_PATTERN = r"^(SampleCount|Sum|Average|Minimum|Maximum|p(100|[1-9]?[0-9](\.[0-9]{1,2})?))$"
# GetMetricData MetricDataQuery.Id: letters, digits and underscore, a lowercase letter first.
QUERY_ID_PATTERN = r"^[a-z][a-zA-Z0-9_]*$"
S3_TAR_GZ_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+\.tar\.gz$"


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"  # too few invocations or datapoints to judge: the step holds


# --- what the target asks for -------------------------------------------------------------


class _Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    critical: bool = False  # a Fail rolls back at once, whatever the score
    confidence: float = Field(default=0.95, ge=0.5, lt=1)  # a Fail needs p < 1 - confidence
    weight: float = Field(default=1.0, gt=0, le=100)  # share in the score (non-critical checks)


class ErrorsCheck(_Check):
    """Candidate vs baseline Invocation5XXErrors / Invocations over the step's minutes."""

    critical: bool = True
    # How much higher the candidate's error rate may be, as a fraction: 0.005 = 0.5 points.
    tolerance: float = Field(default=0.005, ge=0, le=1)
    min_invocations: int = Field(default=100, ge=1)  # per variant, else Inconclusive
    include_4xx: bool = False  # count Invocation4XXErrors as errors too


class LatencyCheck(_Check):
    """Per-minute ModelLatency percentile of the candidate vs the baseline (Mann-Whitney U)."""

    statistic: str = Field(default="p90", pattern=PERCENTILE_PATTERN)
    tolerance: float = Field(default=0.1, ge=0, le=10)  # relative: 0.1 = 10 % slower allowed
    min_datapoints: int = Field(default=5, ge=3, le=1440)  # minutes with data per variant


class MetricCheck(_Check):
    """Any CloudWatch metric, per variant: ``{endpoint}`` and ``{variant}`` in dimension values."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")
    namespace: str = Field(min_length=1, max_length=255)
    metric_name: str = Field(min_length=1, max_length=255)
    dimensions: dict[str, str] = Field(default_factory=dict, max_length=30)
    statistic: str = Field(default="Average", pattern=STATISTIC_PATTERN)
    direction: Literal["higher", "lower"] = "higher"  # which way is worse
    tolerance: float = Field(default=0.1, ge=0, le=10)  # relative change allowed the bad way
    min_datapoints: int = Field(default=5, ge=3, le=1440)

    @model_validator(mode="after")
    def _names_the_variant(self) -> MetricCheck:
        if not any("{variant}" in v for v in self.dimensions.values()):
            raise ValueError(f"metric check {self.name}: a dimension value must hold {{variant}} to tell the two apart")
        return self


class AnalysisPlan(BaseModel):
    """``plan.analysis``: how each bake compares the candidate with the baseline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    errors: ErrorsCheck = ErrorsCheck()
    latency: LatencyCheck = LatencyCheck()
    metrics: list[MetricCheck] = Field(default_factory=list, max_length=10)
    pass_score: float = Field(default=75.0, ge=0, le=100)  # of the non-critical checks, weighted

    @model_validator(mode="after")
    def _unique_names(self) -> AnalysisPlan:
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names) or {"errors", "latency"} & set(names):
            raise ValueError("metric check names must be unique and not 'errors' or 'latency'")
        return self


class ShadowPlan(BaseModel):
    """``plan.shadow`` (issue 13): before any canary step, the candidate runs as the endpoint's shadow
    variant (CreateEndpointConfig ShadowProductionVariants), sees a copy of ``sampling_percent``
    % of the requests, answers no one, and is judged against production for ``duration_seconds``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # "The percentage of inference requests that Amazon SageMaker replicates from the production
    # variant to the shadow variant" (API reference, ShadowModelVariantConfig: at most 100).
    sampling_percent: int = Field(ge=1, le=100)
    duration_seconds: int = Field(ge=60, le=7 * 24 * 3600)
    checks: AnalysisPlan | None = None  # None: the plan's own analysis


class SmokeTestPlan(BaseModel):
    """``plan.smoke_test``: sample payloads sent to the candidate at weight 0, before any traffic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # A .tar.gz of sample files; none: the model package's SamplePayloadUrl (Model Registry).
    samples_s3_uri: str | None = Field(default=None, pattern=S3_TAR_GZ_PATTERN)
    content_type: str | None = Field(default=None, max_length=1024)  # none: the package's first
    latency_budget_ms: int = Field(default=2000, ge=1, le=60_000)
    max_samples: int = Field(default=10, ge=1, le=100)


# --- what the shell gathers ----------------------------------------------------------------


class MetricQuery(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=QUERY_ID_PATTERN)
    namespace: str
    metric_name: str
    dimensions: dict[str, str]
    stat: str


class MetricRequest(BaseModel):
    """One GetMetricData call: every query of one decision, over the step's whole minutes."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    period: int = 60
    queries: list[MetricQuery]


class MetricData(BaseModel):
    """What GetMetricData returned: per query id, (period start, value) oldest first."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    series: dict[str, list[tuple[datetime, float]]] = Field(default_factory=dict)


class RunSmokeTest(BaseModel):
    """Invoke the candidate variant directly (TargetVariant) with each sample payload."""

    kind: Literal["RunSmokeTest"] = "RunSmokeTest"
    endpoint_name: str
    variant_name: str
    model_package_arn: str
    samples_s3_uri: str | None = None
    content_type: str | None = None
    latency_budget_ms: int = 2000
    max_samples: int = 10


class SampleResult(BaseModel):
    name: str
    ok: bool
    status: int | None = None  # HTTP status of the answer; None: no answer
    latency_ms: float | None = None
    excerpt: str = ""  # the start of the answer (or of the error)


class SmokeResult(BaseModel):
    """What the shell found: passed, failed, skipped (no sample), or retry (AWS said try later)."""

    outcome: Literal["passed", "failed", "skipped", "retry"]
    reason: str
    source: str | None = None  # where the samples came from
    samples: list[SampleResult] = Field(default_factory=list)


# --- what the rollout keeps -----------------------------------------------------------------


class SmokeTestRecord(BaseModel):
    requested_at: datetime
    attempts: int = 1
    outcome: Literal["passed", "failed", "skipped"] | None = None  # None: under way
    reason: str = ""
    source: str | None = None
    samples: list[SampleResult] = Field(default_factory=list)
    finished_at: datetime | None = None


class CheckResult(BaseModel):
    name: str  # errors, latency, or a metric check's name
    verdict: Verdict
    critical: bool
    baseline: float | None = None  # errors: %; latency: ms; metrics: the statistic's value
    candidate: float | None = None
    difference: float | None = None  # errors: points; latency and metrics: % (relative)
    p_value: float | None = None
    data: str = ""  # how much it is based on: invocations or minutes per variant
    detail: str = ""  # one sentence with the numbers


class AnalysisReport(BaseModel):
    at: datetime
    step: int
    step_percent: int
    window_start: datetime
    window_end: datetime
    verdict: Verdict
    score: float | None = None  # None: no non-critical check was conclusive
    pass_score: float
    checks: list[CheckResult] = Field(default_factory=list)
    holding_since: datetime | None = None  # the bake is over and the step holds: not enough data


class ShadowRecord(BaseModel):
    """The shadow phase of a rollout: when the shadow went into service, how it ended, its analysis."""

    sampling_percent: int
    started_at: datetime | None = None  # the shadow config in service (the bake starts)
    outcome: Literal["passed", "failed", "skipped"] | None = None  # None: under way
    reason: str = ""
    finished_at: datetime | None = None
    analysis: AnalysisReport | None = None  # the latest analysis of the shadow vs production
    # The instance types SageMaker refused before the shadow's (fallbacks.py): its config's name.
    type_attempt: int = 0
