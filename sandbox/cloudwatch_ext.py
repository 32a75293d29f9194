"""What moto's CloudWatch metrics lack, added as AWS documents it (sandbox and tests only).

moto 5.2.5 stores every value of PutMetricData as its own object, answers GetMetricData by
scanning all of them once per period and query, ignores the namespace when dimensions are
given, and raises on percentile statistics (``float(None)``). AWS services such as SageMaker
publish their metrics inside CloudWatch, not through PutMetricData ("You cannot specify a
namespace that begins with 'AWS/'", PutMetricData API reference), so the sandbox's SageMaker
publishes into ``MetricStore.publish`` directly, as AWS would.

GetMetricData as its API reference says:
- at most 500 queries, ids unique, a lowercase letter first; ``StartTime`` inclusive and rounded
  down to the whole minute, ``EndTime`` exclusive, ``StartTime`` before ``EndTime``; ``Period`` a
  multiple of 60 (these metrics have regular resolution);
- a metric is its namespace, name and exact set of dimensions; a period with no data returns
  no datapoint; ``ScanBy`` TimestampDescending unless TimestampAscending is asked for;
- statistics (CloudWatch User Guide, "Statistics definitions"): SampleCount, Sum, Average
  (Sum / SampleCount), Minimum, Maximum and ``pNN.NN``, where "p95 ... means that 95 percent of
  the data within the period is lower than this value": the nearest-rank percentile (the guide
  does not give CloudWatch's estimator; the nearest rank is the smallest value that fits that
  definition). "CloudWatch needs raw data points to calculate percentile statistics": a
  statistic set counts only when its SampleCount is 1 or its Minimum equals its Maximum, and
  "Percentile statistics are not available for metrics when any of the metric values are
  negative numbers" (GetMetricStatistics API reference): no datapoint then;
- metric math and Metrics Insights queries are refused with a ValidationError here (the
  product uses none; the stricter answer to a question the sandbox cannot answer right).

``MetricStore.install()`` patches moto's CloudWatch backend for as long as it is installed.
"""

from __future__ import annotations

import math
import re
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.cloudwatch.exceptions import ValidationError
from moto.cloudwatch.models import CloudWatchBackend

MAX_QUERIES = 500
QUERY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
PERCENTILE = re.compile(r"^p(100|[1-9]?[0-9](\.[0-9]{1,2})?)$")
BASIC = ("SampleCount", "Sum", "Average", "Minimum", "Maximum")

MetricKey = tuple[str, str, frozenset[tuple[str, str]]]  # namespace, name, dimensions


@dataclass
class _Minute:
    """Everything published for one metric in one minute: raw values (with counts) and statistic sets."""

    values: dict[float, float] = field(default_factory=lambda: defaultdict(float))  # value -> count
    sets: list[tuple[float, float, float, float]] = field(default_factory=list)  # count, sum, min, max


def percentile(values: dict[float, float], p: float) -> float:
    """Nearest rank over values with counts: the smallest value with at least p % at or below it."""
    total = sum(values.values())
    rank = max(1, math.ceil(round(p / 100 * total, 9)))
    seen = 0.0
    for value in sorted(values):
        seen += values[value]
        if seen >= rank:
            return value
    return max(values)


class MetricStore:
    """CloudWatch's metric data for the sandbox, per metric and minute."""

    def __init__(self) -> None:
        self.data: dict[MetricKey, dict[datetime, _Minute]] = defaultdict(dict)
        self.reads: list[dict[str, Any]] = []  # every GetMetricData request, for tests
        # Called before each read: whoever publishes (the sandbox's SageMaker) catches up to now.
        self.before_read: list[Callable[[], None]] = []
        self._saved: dict[str, Any] = {}
        # CloudWatch answers concurrent calls (the controller judges 16 rollouts at a time, and
        # sandbox serve answers each request on its own thread): moto's calls and every publisher
        # (the sandbox's SageMaker traffic) take this lock. Reentrant: a read's catch-up publishes.
        self.lock = threading.RLock()

    # --- installing ---------------------------------------------------------------------

    def install(self) -> MetricStore:
        store = self
        originals = {name: getattr(CloudWatchBackend, name) for name in ("get_metric_data", "put_metric_data")}
        self._saved = originals

        def get_metric_data(
            backend: CloudWatchBackend,
            queries: list[dict[str, Any]],
            start_time: datetime,
            end_time: datetime,
            scan_by: str = "TimestampDescending",
        ) -> list[dict[str, Any]]:
            with store.lock:
                return store.get_metric_data(queries, start_time, end_time, scan_by)

        def put_metric_data(backend: CloudWatchBackend, namespace: str, metric_data: list[dict[str, Any]]) -> None:
            store.refuse_reserved(namespace)
            with store.lock:
                originals["put_metric_data"](backend, namespace, metric_data)  # moto's own validation
                store.put(namespace, metric_data)

        CloudWatchBackend.get_metric_data = get_metric_data  # type: ignore[method-assign,assignment]
        CloudWatchBackend.put_metric_data = put_metric_data  # type: ignore[method-assign,assignment]
        return self

    def uninstall(self) -> None:
        for name, original in self._saved.items():
            setattr(CloudWatchBackend, name, original)
        self._saved = {}

    # --- publishing ---------------------------------------------------------------------

    def publish(
        self,
        namespace: str,
        name: str,
        dimensions: dict[str, str],
        at: datetime,
        values: dict[float, float] | None = None,
        statistic_set: tuple[float, float, float, float] | None = None,
    ) -> None:
        """Record raw ``values`` (value -> count) and/or a statistic set (count, sum, min, max) at ``at``."""
        with self.lock:
            minute = self.data[(namespace, name, frozenset(dimensions.items()))].setdefault(_floor(at), _Minute())
            for value, count in (values or {}).items():
                minute.values[float(value)] += count
            if statistic_set is not None:
                minute.sets.append(statistic_set)

    @staticmethod
    def refuse_reserved(namespace: str) -> None:
        if namespace.startswith("AWS/"):
            raise ValidationError(
                f"The value {namespace} for parameter Namespace is invalid: AWS/ is reserved for AWS."
            )

    def put(self, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        """PutMetricData: Value, Values/Counts or StatisticValues per datum."""
        self.refuse_reserved(namespace)
        for datum in metric_data:
            dims = {d["Name"]: d["Value"] for d in datum.get("Dimensions") or []}
            at = datum.get("Timestamp") or datetime.now(UTC)
            if isinstance(at, str):
                at = datetime.fromisoformat(at.replace("Z", "+00:00"))
            at = _utc(at)
            if datum.get("StatisticValues"):
                sv = datum["StatisticValues"]
                stats = (float(sv["SampleCount"]), float(sv["Sum"]), float(sv["Minimum"]), float(sv["Maximum"]))
                self.publish(namespace, datum["MetricName"], dims, at, statistic_set=stats)
            elif datum.get("Values"):
                counts = datum.get("Counts") or [1] * len(datum["Values"])
                values: dict[float, float] = defaultdict(float)
                for value, count in zip(datum["Values"], counts, strict=True):
                    values[float(value)] += float(count)
                self.publish(namespace, datum["MetricName"], dims, at, values=values)
            else:
                self.publish(namespace, datum["MetricName"], dims, at, values={float(datum.get("Value", 0)): 1.0})

    # --- reading ------------------------------------------------------------------------

    def get_metric_data(
        self, queries: list[dict[str, Any]], start: datetime, end: datetime, scan_by: str = "TimestampDescending"
    ) -> list[dict[str, Any]]:
        for catch_up in self.before_read:
            catch_up()
        self.reads.append({"queries": queries, "start": start, "end": end})
        start, end = _floor(_utc(start)), _utc(end)
        if start >= end:
            raise ValidationError("The parameter StartTime must be less than the parameter EndTime.")
        if len(queries) > MAX_QUERIES:
            raise ValidationError(f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}.")
        ids = [q["Id"] for q in queries]
        if len(set(ids)) != len(ids) or not all(QUERY_ID.match(i) for i in ids):
            raise ValidationError(
                "The value for each MetricDataQuery Id must be unique and start with a lowercase letter."
            )
        results = []
        for query in queries:
            if "MetricStat" not in query:
                raise ValidationError("sandbox: metric math and Metrics Insights queries are not simulated.")
            stat_spec = query["MetricStat"]
            period, stat = int(stat_spec["Period"]), str(stat_spec["Stat"])
            if period < 60 or period % 60:
                raise ValidationError(
                    "The parameter Period must be a multiple of 60 for metrics of regular resolution."
                )
            if stat not in BASIC and not PERCENTILE.match(stat):
                raise ValidationError(f"sandbox: statistic {stat} is not simulated (basic statistics and pNN.NN are).")
            metric = stat_spec["Metric"]
            key = (
                metric["Namespace"],
                metric["MetricName"],
                frozenset((d["Name"], d["Value"]) for d in metric.get("Dimensions") or []),
            )
            points = self._series(self.data.get(key, {}), start, end, period, stat)
            if scan_by != "TimestampAscending":
                points.reverse()
            if query.get("ReturnData", True):
                results.append(
                    {
                        "id": query["Id"],
                        "label": query.get("Label") or metric["MetricName"],
                        "timestamps": [at for at, _ in points],
                        "values": [value for _, value in points],
                        "status_code": "Complete",
                    }
                )
        return results

    @staticmethod
    def _series(
        minutes: dict[datetime, _Minute], start: datetime, end: datetime, period: int, stat: str
    ) -> list[tuple[datetime, float]]:
        buckets: dict[datetime, list[_Minute]] = defaultdict(list)
        for at, minute in minutes.items():
            if start <= at < end:
                buckets[start + timedelta(seconds=(at - start) // timedelta(seconds=period) * period)].append(minute)
        out = []
        for at in sorted(buckets):
            value = _statistic(buckets[at], stat)
            if value is not None:
                out.append((at, value))
        return out


def _statistic(minutes: list[_Minute], stat: str) -> float | None:
    values: dict[float, float] = defaultdict(float)
    sets: list[tuple[float, float, float, float]] = []
    for minute in minutes:
        for value, count in minute.values.items():
            values[value] += count
        sets += minute.sets
    count = sum(values.values()) + sum(s[0] for s in sets)
    if count == 0:
        return None
    if stat == "SampleCount":
        return count
    total = sum(v * c for v, c in values.items()) + sum(s[1] for s in sets)
    if stat == "Sum":
        return total
    if stat == "Average":
        return total / count
    lows = [*values, *(s[2] for s in sets)]
    highs = [*values, *(s[3] for s in sets)]
    if stat == "Minimum":
        return min(lows)
    if stat == "Maximum":
        return max(highs)
    # A percentile: raw values only (a statistic set only when it is one value, or all equal ones).
    for n, _, low, high in sets:
        if n != 1 and low != high:
            return None
        values[low] += n
    if any(v < 0 for v in values):
        return None
    return percentile(values, float(stat[1:]))


def _utc(at: datetime) -> datetime:
    """moto parses request times without a zone; they are UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _floor(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)
