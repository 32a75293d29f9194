"""What a bake's analysis asks CloudWatch for: per-variant queries over the step's whole minutes (pure).

analysis.py (the canary's bake) and shadow.py (the shadow's) build one GetMetricData request
each from these; the shell (judging.py, aws/metrics.py) makes the call.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .canary_models import AnalysisPlan, MetricQuery, MetricRequest

PERIOD_SECONDS = 60  # SageMaker's per-variant metrics are per minute
# The window is the step's whole minutes, at most the last day of them: at most
# (6 + 2 x 10) queries x 1440 points, well within GetMetricData's 100,800 points per call.
MAX_WINDOW_MINUTES = 1440
NAMESPACE = "AWS/SageMaker"


def window_request(started: datetime, now: datetime, wanted: list[MetricQuery]) -> MetricRequest | None:
    """One GetMetricData over the whole minutes since ``started`` (None: not one yet)."""
    start, end = _ceil_minute(started), _floor_minute(now)
    start = max(start, end - timedelta(minutes=MAX_WINDOW_MINUTES))
    if end <= start:
        return None  # not one whole minute of this step yet
    return MetricRequest(start=start, end=end, period=PERIOD_SECONDS, queries=wanted)


def variant_queries(endpoint_name: str, plan: AnalysisPlan, baseline: str, candidate: str) -> list[MetricQuery]:
    """Every metric ``plan`` checks, for the variant ``baseline`` (``_b``) and ``candidate`` (``_c``)."""
    out: list[MetricQuery] = []
    for suffix, variant in (("b", baseline), ("c", candidate)):
        sagemaker = {"EndpointName": endpoint_name, "VariantName": variant}
        wanted: list[tuple[str, str, str]] = []  # (id prefix, SageMaker metric, statistic)
        if plan.errors.enabled:
            wanted += [("inv", "Invocations", "Sum"), ("e5", "Invocation5XXErrors", "Sum")]
            if plan.errors.include_4xx:
                wanted.append(("e4", "Invocation4XXErrors", "Sum"))
        if plan.latency.enabled:
            wanted.append(("lat", "ModelLatency", plan.latency.statistic))
        out += [
            MetricQuery(id=f"{key}_{suffix}", namespace=NAMESPACE, metric_name=metric, dimensions=sagemaker, stat=stat)
            for key, metric, stat in wanted
        ]
        for n, check in enumerate(plan.metrics):
            if check.enabled:
                dims = {
                    k: v.replace("{endpoint}", endpoint_name).replace("{variant}", variant)
                    for k, v in check.dimensions.items()
                }
                out.append(
                    MetricQuery(
                        id=f"m{n}_{suffix}",
                        namespace=check.namespace,
                        metric_name=check.metric_name,
                        dimensions=dims,
                        stat=check.statistic,
                    )
                )
    return out


def _ceil_minute(t: datetime) -> datetime:
    floor = _floor_minute(t)
    return floor if floor == t else floor + timedelta(minutes=1)


def _floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)
