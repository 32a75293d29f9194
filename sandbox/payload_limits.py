"""What API Gateway and Lambda refuse before the API's function runs (sandbox and tests only).

- API Gateway REST APIs take a payload of at most 10 MB ("Amazon API Gateway quotas": payload
  size, 10 MB); a larger request is answered by the gateway itself with its REQUEST_TOO_LARGE
  gateway response (413), whose body template.yaml sets.
- Lambda takes a synchronous invocation payload of at most 6 MB ("Lambda quotas"); the event
  API Gateway builds holds the body base64-encoded ("*/*" binary media type), and Lambda
  refuses a larger one ("RequestEntityTooLargeException: Request must be smaller than 6291456
  bytes"). API Gateway then answers 502 (INTEGRATION_FAILURE, "Internal server error") through
  the DEFAULT_5XX gateway response of template.yaml. The docs do not say whether "10 MB" is
  10^7 or 10 * 2^20 bytes; Lambda's message says 6 MB is 6 * 2^20, so both are taken as MiB.
"""

from __future__ import annotations

import json
from typing import Any

GATEWAY_PAYLOAD_LIMIT = 10 * 1024 * 1024
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
_API = "InferenceApi"  # the REST API of template.yaml (both API functions are on it)


def refusal(template: dict[str, Any], body: bytes | None, event: dict[str, Any]) -> dict[str, Any] | None:
    """API Gateway's own answer when the request never reaches the function; None otherwise."""
    if body is not None and len(body) > GATEWAY_PAYLOAD_LIMIT:
        return gateway_response(template, "REQUEST_TOO_LARGE", 413, "Request Too Long")
    if len(json.dumps(event).encode()) > LAMBDA_PAYLOAD_LIMIT:
        return gateway_response(template, "DEFAULT_5XX", 502, "Internal server error")
    return None


def gateway_response(template: dict[str, Any], kind: str, status: int, message: str) -> dict[str, Any]:
    """A gateway response as template.yaml's GatewayResponses shapes it ($context.error.messageString
    is the quoted message)."""
    declared = template["Resources"][_API]["Properties"].get("GatewayResponses", {}).get(kind, {})
    body = declared.get("ResponseTemplates", {}).get("application/json", '{"message": $context.error.messageString}')
    return {
        "statusCode": int(declared.get("StatusCode", status)),
        "body": body.replace("$context.error.messageString", json.dumps(message)),
        "isBase64Encoded": False,
        "headers": {"Content-Type": "application/json"},
    }
