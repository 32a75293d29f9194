"""The inference API's real-time request sizes and 413 refusals, as metrics (issue 17 item 5).

Published by the invocations route as CloudWatch embedded metric format (Powertools
EphemeralMetrics: the stack's namespace POWERTOOLS_METRICS_NAMESPACE, dimensions ``service`` and
``endpoint``, like the canary metrics of judging.py), and read by ``doctor`` over the last day
in one GetMetricData (aws/metrics.py). Only endpoints this stack serves are published (a name
outside its scope would let any caller create metrics).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from .canary_models import MetricData, MetricQuery, MetricRequest

REQUEST_BYTES = "RealtimeRequestBytes"  # the body of a request that went to InvokeEndpoint
TOO_LARGE = "RealtimeRequestsTooLarge"  # a request the route refused with 413 (it takes /v1/jobs)
WINDOW = timedelta(days=1)
DEFAULT_NAMESPACE = "SageMakerRollout"  # the template's POWERTOOLS_METRICS_NAMESPACE
DEFAULT_SERVICE = "sagemaker-rollout"  # the template's POWERTOOLS_SERVICE_NAME


def publish(endpoint: str, body_bytes: int, too_large: bool) -> None:
    """One EMF document: the request's size, or one 413."""
    metrics = EphemeralMetrics()
    metrics.add_dimension(name="endpoint", value=endpoint)
    if too_large:
        metrics.add_metric(name=TOO_LARGE, unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name=REQUEST_BYTES, unit=MetricUnit.Bytes, value=body_bytes)
    metrics.flush_metrics()


def last_day(endpoint: str, now: datetime) -> MetricRequest:
    """The largest request and the number of 413s of the last day: one period, two queries."""
    end = now.replace(second=0, microsecond=0)
    dimensions = {
        "service": os.environ.get("POWERTOOLS_SERVICE_NAME", DEFAULT_SERVICE),
        "endpoint": endpoint,
    }
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE)
    return MetricRequest(
        start=end - WINDOW,
        end=end,
        period=int(WINDOW.total_seconds()),
        queries=[
            MetricQuery(
                id="largest", namespace=namespace, metric_name=REQUEST_BYTES, dimensions=dimensions, stat="Maximum"
            ),
            MetricQuery(id="refused", namespace=namespace, metric_name=TOO_LARGE, dimensions=dimensions, stat="Sum"),
        ],
    )


def summary(data: MetricData) -> tuple[int | None, int]:
    """(largest request in bytes, None without any; 413s) from ``last_day``'s answer."""
    largest = [value for _, value in data.series.get("largest", [])]
    refused = [value for _, value in data.series.get("refused", [])]
    return (int(max(largest)) if largest else None), int(sum(refused))
