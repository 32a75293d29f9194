"""Milestones out: a concise SNS message and a custom EventBridge event per milestone."""

from __future__ import annotations

import json
from typing import Any

from ..models import Notification

SOURCE = "sagemaker-rollout"  # the source of our custom events on the default bus


class Notifier:
    def __init__(
        self, sns: Any, events: Any, topic_arn: str | None, bus: str = "default", origin: dict[str, str] | None = None
    ) -> None:
        self._sns = sns
        self._events = events
        self._topic = topic_arn
        self._bus = bus
        # Who announces: this stack's environment, account and region, added to every event's
        # detail (a downstream environment, maybe in another account, follows them).
        self._origin = {k: v for k, v in (origin or {}).items() if v}

    def publish(self, notifications: list[Notification]) -> None:
        """SNS first, then EventBridge; raises on the first failure (the caller retries all)."""
        if not notifications:
            return
        if self._topic:
            for note in notifications:
                self._sns.publish(
                    TopicArn=self._topic,
                    Subject=note.subject[:100],
                    Message=note.message,
                    MessageAttributes={
                        "milestone": {"DataType": "String", "StringValue": note.milestone},
                        "endpoint": {"DataType": "String", "StringValue": note.detail.get("endpoint", "-") or "-"},
                    },
                )
        for start in range(0, len(notifications), 10):  # PutEvents takes up to 10 entries
            batch = notifications[start : start + 10]
            response = self._events.put_events(
                Entries=[
                    {
                        "Source": SOURCE,
                        "DetailType": note.detail_type,
                        "Detail": json.dumps({**note.detail, **self._origin}, default=str),
                        "EventBusName": self._bus,
                        "Resources": note.resources,
                    }
                    for note in batch
                ]
            )
            if response.get("FailedEntryCount"):
                failed = [e for e in response["Entries"] if e.get("ErrorCode")]
                raise RuntimeError(f"PutEvents refused {len(failed)} entries: {failed[0].get('ErrorMessage')}")
