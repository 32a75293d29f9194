"""CloudWatch: the state of the guard alarms."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..models import AlarmState

DESCRIBE_ALARMS_LIMIT = 100  # DescribeAlarms takes at most 100 names


class AlarmGateway:
    def __init__(self, client: Any) -> None:
        self._cw = client

    def states(self, names: Iterable[str]) -> dict[str, AlarmState]:
        """Current state per alarm name; an alarm that does not exist is left out."""
        return self.read(names)[0]

    def read(self, names: Iterable[str]) -> tuple[dict[str, AlarmState], dict[str, str]]:
        """(state, StateReason) per alarm name, in one DescribeAlarms call per 100 names."""
        wanted = sorted(set(names))
        states: dict[str, AlarmState] = {}
        reasons: dict[str, str] = {}
        for start in range(0, len(wanted), DESCRIBE_ALARMS_LIMIT):
            chunk = wanted[start : start + DESCRIBE_ALARMS_LIMIT]
            paginator = self._cw.get_paginator("describe_alarms")
            for page in paginator.paginate(AlarmNames=chunk, AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
                for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                    states[alarm["AlarmName"]] = AlarmState(alarm["StateValue"])
                    reasons[alarm["AlarmName"]] = str(alarm.get("StateReason", ""))
        return states, reasons
