"""The EventBridge envelope of every event the sandbox's AWS services announce.

Shape: "Amazon EventBridge events" (version, id, detail-type, source, account, time, region,
resources, detail), with ``time`` in whole seconds as AWS sends it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any


def envelope(
    source: str,
    detail_type: str,
    resources: list[str],
    detail: dict[str, Any],
    at: datetime,
    account: str,
    region: str,
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": resources,
        "detail": detail,
    }
