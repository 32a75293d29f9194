"""boto3 clients with explicit retry settings (botocore's default mode is still ``legacy``)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

# ``total_max_attempts`` counts calls, not retries. Standard mode retries throttling and
# transient errors with backoff; what still fails reaches the core as a ClientError.
RETRY_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 4},
    connect_timeout=5,
    read_timeout=30,
)


# Presigned POST/GET for SSE-KMS objects need Signature Version 4.
S3_CONFIG = RETRY_CONFIG.merge(Config(signature_version="s3v4"))


def client(service: str, session: boto3.session.Session | None = None) -> Any:
    """A client for ``service`` with the project's retry configuration."""
    config = S3_CONFIG if service == "s3" else RETRY_CONFIG
    return (session or boto3.session.Session()).client(service, config=config)  # type: ignore[call-overload]


def error_code(exc: Exception) -> tuple[str, str]:
    """(code, message) of a botocore ClientError; ("", str(exc)) otherwise."""
    response = getattr(exc, "response", None) or {}
    err = response.get("Error", {})
    return str(err.get("Code", "")), str(err.get("Message", str(exc)))
