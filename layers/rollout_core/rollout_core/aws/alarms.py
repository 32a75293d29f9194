"""CloudWatch: the state of the guard alarms."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..models import AlarmState

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
