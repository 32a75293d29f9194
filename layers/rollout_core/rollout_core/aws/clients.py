"""boto3 clients with explicit retry settings (botocore's default mode is still ``legacy``)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

# How many calls one client may have in flight at once: the controller decides that many
# endpoints concurrently (decision_pool.DECISION_WORKERS). botocore keeps max_pool_connections
# connections per client (10 by default); a thread beyond it opens a connection and drops it.
CONCURRENT_CALLS = 16

# ``total_max_attempts`` counts calls, not retries. Standard mode retries throttling and
# transient errors with backoff; what still fails reaches the core as a ClientError.
RETRY_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 4},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=CONCURRENT_CALLS,
)


# Presigned POST/GET for SSE-KMS objects need Signature Version 4.
S3_CONFIG = RETRY_CONFIG.merge(Config(signature_version="s3v4"))

# API Gateway stops waiting for a REST integration after 29 s ("Amazon API Gateway quotas":
# integration timeout, 50 ms - 29 s by default) and answers the caller 504 itself.
API_GATEWAY_TIMEOUT_SECONDS = 29

# InvokeEndpoint behind the inference API. One attempt, no retry: InvokeEndpoint is not
# idempotent, and botocore cannot tell a request SageMaker never saw from one whose answer was
# lost (standard mode also retries read timeouts and 5XX answers), so a retry could run the
# model twice, the second time for a caller who already got API Gateway's 504. Every error,
# throttling included, goes back to the caller as a clear status; the caller knows whether its
# request may be sent again. The read timeout leaves time within API Gateway's 29 s to answer
# a JSON 504 (connect 2 s + read 25 s).
REALTIME_CONNECT_TIMEOUT_SECONDS = 2
REALTIME_READ_TIMEOUT_SECONDS = 25
REALTIME_RUNTIME_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=REALTIME_CONNECT_TIMEOUT_SECONDS,
    read_timeout=REALTIME_READ_TIMEOUT_SECONDS,
)


def client(service: str, session: boto3.session.Session | None = None, config: Config | None = None) -> Any:
    """A client for ``service`` with the project's retry configuration (or ``config``)."""
    chosen = config or (S3_CONFIG if service == "s3" else RETRY_CONFIG)
    return (session or boto3.session.Session()).client(service, config=chosen)  # type: ignore[call-overload]


def realtime_runtime_client(session: boto3.session.Session | None = None) -> Any:
    """sagemaker-runtime for InvokeEndpoint on the real-time route (REALTIME_RUNTIME_CONFIG)."""
    return client("sagemaker-runtime", session, REALTIME_RUNTIME_CONFIG)


# The smoke test's InvokeEndpoint: one attempt (a retry would hide a slow or failing answer;
# "try later" errors retry the whole smoke test instead, smoke.py) and a read timeout just past
# the sample's latency budget, so a hanging container fails the sample, not the function.
SMOKE_CONNECT_TIMEOUT_SECONDS = 2


def smoke_runtime_client(read_timeout: float, session: boto3.session.Session | None = None) -> Any:
    """sagemaker-runtime for the smoke test, waiting ``read_timeout`` seconds for an answer."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=SMOKE_CONNECT_TIMEOUT_SECONDS,
        read_timeout=read_timeout,
    )
    return client("sagemaker-runtime", session, config)


def error_code(exc: Exception) -> tuple[str, str]:
    """(code, message) of a botocore ClientError; ("", str(exc)) otherwise."""
    response = getattr(exc, "response", None) or {}
    err = response.get("Error", {})
    return str(err.get("Code", "")), str(err.get("Message", str(exc)))
