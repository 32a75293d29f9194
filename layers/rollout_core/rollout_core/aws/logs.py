"""CloudWatch Logs: what the candidate's container said when its endpoint change failed.

SageMaker sends a real-time endpoint's container output to the log group
``/aws/sagemaker/Endpoints/<endpoint name>``, one stream per instance named
``<variant name>/<instance id>`` ("Log Amazon SageMaker AI Events with Amazon CloudWatch").
A failed health check (``/ping`` not answering 200 within the startup window) leaves
SageMaker's FailureReason generic; the container's own error is in those streams.

One bounded read: FilterLogEvents on the variant's streams (logStreamNamePrefix) over the
failure's time window, at most MAX_PAGES pages of PAGE_LIMIT events. The lines that look like
an error are kept (else the last lines), at most MAX_LINES, each cut to MAX_CHARS. A read that
fails (no log group yet, AccessDenied, throttling) gives no lines: the failure is reported
anyway, with SageMaker's reason alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from .clients import error_code

logger = Logger(child=True)

PAGE_LIMIT = 100
MAX_PAGES = 3
MAX_LINES = 5
MAX_CHARS = 300
_ERROR_WORDS = ("error", "exception", "traceback", "fail", "fatal", "killed", "refused", "ping")


def log_group(endpoint_name: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


class ContainerLogs:
    def __init__(self, client: Any) -> None:
        self._logs = client

    def recent(self, endpoint_name: str, variant_name: str, since: datetime, until: datetime) -> list[str]:
        """The variant's last relevant log lines between ``since`` and ``until``."""
        messages: list[str] = []
        request: dict[str, Any] = {
            "logGroupName": log_group(endpoint_name),
            "logStreamNamePrefix": f"{variant_name}/",
            "startTime": int(since.timestamp() * 1000),
            "endTime": int(until.timestamp() * 1000),
            "limit": PAGE_LIMIT,
        }
        try:
            for _ in range(MAX_PAGES):
                page = self._logs.filter_log_events(**request)
                messages += [str(e.get("message", "")).strip() for e in page.get("events", [])]
                if not page.get("nextToken"):
                    break
                request["nextToken"] = page["nextToken"]
        except (ClientError, BotoCoreError) as exc:
            code = error_code(exc)[0] if isinstance(exc, ClientError) else type(exc).__name__
            logger.warning("container log not read", extra={"endpoint": endpoint_name, "code": code})
        lines = [m for m in messages if m]
        relevant = [m for m in lines if any(w in m.lower() for w in _ERROR_WORDS)] or lines
        return [m[:MAX_CHARS] for m in relevant[-MAX_LINES:]]
