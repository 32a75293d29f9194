"""The functions' embedded metric format (EMF) documents reaching CloudWatch (sandbox only).

In Lambda, Powertools Metrics prints one EMF document per flush to the function's log, and
CloudWatch Logs extracts the metrics it declares ("Specification: Embedded metric format",
CloudWatch User Guide): ``_aws.CloudWatchMetrics[]`` names a ``Namespace``, ``Dimensions``
(arrays of dimension-key sets; the values are the document's top-level members of those names)
and ``Metrics`` (each ``Name``, the value being the top-level member of that name: a number or
an array of numbers). The sandbox runs the functions with POWERTOOLS_METRICS_DISABLED (nothing
printed); this hook serialises each flush as Powertools would and publishes its metrics into
the sandbox's CloudWatch (``MetricStore``) at the sandbox's time, once per dimension set, then
clears the metric set as a flush does. The document is printed only where metrics are enabled
(as Powertools does); an empty flush is quiet (Powertools would warn).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from .cloudwatch_ext import MetricStore


def publish_document(store: MetricStore, document: dict[str, Any], at: datetime) -> None:
    """Extract the metrics one EMF document declares, as CloudWatch Logs does."""
    for directive in document["_aws"]["CloudWatchMetrics"]:
        namespace = directive["Namespace"]
        for keys in directive["Dimensions"]:
            dimensions = {key: str(document[key]) for key in keys}
            for metric in directive["Metrics"]:
                raw = document[metric["Name"]]
                values: dict[float, float] = {}
                for value in raw if isinstance(raw, list) else [raw]:
                    values[float(value)] = values.get(float(value), 0.0) + 1.0
                store.publish(namespace, metric["Name"], dimensions, at, values=values)


class EmfSink:
    """Every Powertools flush (Metrics and EphemeralMetrics) published into ``store``."""

    def __init__(self, store: MetricStore, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock
        self.documents: list[dict[str, Any]] = []  # every document, for tests
        self._saved: Any = None

    def install(self) -> EmfSink:
        sink = self
        self._saved = AmazonCloudWatchEMFProvider.flush_metrics

        def flush_metrics(provider: AmazonCloudWatchEMFProvider, raise_on_empty_metrics: bool = False) -> None:
            if not provider.metric_set:
                if raise_on_empty_metrics:
                    sink._saved(provider, raise_on_empty_metrics)  # Powertools' own error
                return  # Powertools would warn "No application metrics to publish": kept quiet
            document = dict(provider.serialize_metric_set())
            sink.documents.append(document)
            publish_document(sink.store, document, sink.clock())
            if not is_metrics_disabled():  # printed to the log as Powertools does (a test may read it)
                print(json.dumps(document, separators=(",", ":")))
            provider.clear_metrics()

        AmazonCloudWatchEMFProvider.flush_metrics = flush_metrics  # type: ignore[method-assign,assignment]
        return self

    def uninstall(self) -> None:
        if self._saved is not None:
            AmazonCloudWatchEMFProvider.flush_metrics = self._saved  # type: ignore[method-assign]
            self._saved = None
