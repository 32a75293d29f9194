"""The inference API's request metrics (issue 17 item 5): what doctor asks CloudWatch, what it
makes of the answer, and the sandbox's EMF extraction (the specification's document shape)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rollout_core import request_metrics
from rollout_core.canary_models import MetricData
from sandbox.cloudwatch_ext import MetricStore
from sandbox.emf_ext import publish_document

NOW = datetime(2026, 11, 20, 9, 30, 17, tzinfo=UTC)


def test_doctor_asks_for_the_largest_request_and_the_413s_of_the_last_day_in_one_period():
    request = request_metrics.last_day("churn-endpoint", NOW)
    assert request.end == NOW.replace(second=0) and request.end - request.start == timedelta(days=1)
    assert request.period == 86400
    assert [(q.id, q.metric_name, q.stat) for q in request.queries] == [
        ("largest", "RealtimeRequestBytes", "Maximum"),
        ("refused", "RealtimeRequestsTooLarge", "Sum"),
    ]
    assert request.queries[0].dimensions == {"service": "sagemaker-rollout", "endpoint": "churn-endpoint"}


def test_the_summary_of_no_data_is_unknown_size_and_no_413():
    empty = MetricData(start=NOW, end=NOW, series={})
    assert request_metrics.summary(empty) == (None, 0)
    data = MetricData(start=NOW, end=NOW, series={"largest": [(NOW, 4e6)], "refused": [(NOW, 2.0), (NOW, 1.0)]})
    assert request_metrics.summary(data) == (4_000_000, 3)


def test_an_emf_document_is_extracted_per_dimension_set_with_every_value():
    store = MetricStore()
    document = {
        "_aws": {
            "Timestamp": 0,
            "CloudWatchMetrics": [
                {
                    "Namespace": "SageMakerRollout",
                    "Dimensions": [["service", "endpoint"], ["service"]],
                    "Metrics": [{"Name": "RealtimeRequestBytes", "Unit": "Bytes"}],
                }
            ],
        },
        "service": "sagemaker-rollout",
        "endpoint": "churn-endpoint",
        "RealtimeRequestBytes": [10, 20, 10],
    }
    publish_document(store, document, NOW)
    both = (
        "SageMakerRollout",
        "RealtimeRequestBytes",
        frozenset({"service": "sagemaker-rollout", "endpoint": "churn-endpoint"}.items()),
    )
    alone = ("SageMakerRollout", "RealtimeRequestBytes", frozenset({"service": "sagemaker-rollout"}.items()))
    for key in (both, alone):
        (minute,) = store.data[key].values()
        assert dict(minute.values) == {10.0: 2.0, 20.0: 1.0}
