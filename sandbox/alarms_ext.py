"""CloudWatch alarm states as CloudWatch sets them (moto 5.2.5 differs; sandbox and tests only).

- "INSUFFICIENT_DATA ... is the initial state of a new alarm" (Application Auto Scaling user
  guide, "Monitor with CloudWatch alarms"); moto starts every alarm OK.
- PutMetricAlarm on an existing alarm: "its state is left unchanged, but the update completely
  overwrites the previous configuration" (PutMetricAlarm API reference); moto resets it.
- An alarm that treats missing data as ``notBreaching`` ("missing data points are treated as
  being within the threshold") and gets no data is evaluated OK within its first period:
  ``evaluate()`` does that on the simulated clock and returns the alarms it moved, which the
  stack announces as CloudWatch does ("CloudWatch Alarm State Change"). The sandbox publishes
  no metric data, so no other alarm changes by itself: scenarios set states (``alarm`` steps).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend, cloudwatch_backends

INITIAL_REASON = "Unchecked: Initial alarm creation"


class AlarmStates:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._saved: Any = None

    def install(self) -> AlarmStates:
        original = CloudWatchBackend.put_metric_alarm
        self._saved = original
        clock = self.clock

        def put_metric_alarm(backend: CloudWatchBackend, name: str, *args: Any, **kwargs: Any) -> Any:
            before = backend.alarms.get(name)
            alarm = original(backend, name, *args, **kwargs)
            if before is not None:
                alarm.state_value, alarm.state_reason = before.state_value, before.state_reason
                alarm.state_updated_timestamp = before.state_updated_timestamp
            else:
                alarm.state_value, alarm.state_reason = "INSUFFICIENT_DATA", INITIAL_REASON
                alarm.state_updated_timestamp = clock()
            return alarm

        CloudWatchBackend.put_metric_alarm = put_metric_alarm  # type: ignore[method-assign,assignment]
        return self

    def uninstall(self) -> None:
        if self._saved is not None:
            CloudWatchBackend.put_metric_alarm = self._saved  # type: ignore[method-assign]
            self._saved = None

    def evaluate(self, account: str, region: str) -> list[str]:
        """Alarms without data that treat missing data as not breaching, due for evaluation:
        the names of those to move to OK (the caller sets and announces the change)."""
        now = self.clock()
        due = []
        for name, alarm in cloudwatch_backends[account][region].alarms.items():
            if alarm.state_value != "INSUFFICIENT_DATA" or alarm.treat_missing_data != "notBreaching":
                continue
            if now - alarm.state_updated_timestamp >= timedelta(seconds=int(alarm.period or 60)):
                due.append(name)
        return sorted(due)
