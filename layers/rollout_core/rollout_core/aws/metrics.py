"""CloudWatch GetMetricData: the per-variant metrics of a bake, every query in one call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..canary_models import MetricData, MetricRequest


class MetricsGateway:
    def __init__(self, client: Any) -> None:
        self._cw = client

    def read(self, request: MetricRequest) -> MetricData:
        """One GetMetricData call with every query (a further page only when CloudWatch returns
        a NextToken: the analysis keeps its window far below the 100,800 points of one page)."""
        queries = [
            {
                "Id": q.id,
                "MetricStat": {
                    "Metric": {
                        "Namespace": q.namespace,
                        "MetricName": q.metric_name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(q.dimensions.items())],
                    },
                    "Period": request.period,
                    "Stat": q.stat,
                },
                "ReturnData": True,
            }
            for q in request.queries
        ]
        series: dict[str, list[tuple[datetime, float]]] = {q.id: [] for q in request.queries}
        kwargs: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": request.start,
            "EndTime": request.end,
            "ScanBy": "TimestampAscending",
        }
        while True:
            response = self._cw.get_metric_data(**kwargs)
            for result in response.get("MetricDataResults", []):
                points = zip(result.get("Timestamps", []), result.get("Values", []), strict=True)
                series.setdefault(result["Id"], []).extend(
                    (at, float(value)) for at, value in points if request.start <= at < request.end
                )
            token = response.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
        return MetricData(
            start=request.start,
            end=request.end,
            series={key: sorted(points, key=lambda p: p[0]) for key, points in series.items()},
        )
