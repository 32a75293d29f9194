"""SageMaker Runtime errors as HTTP answers: meaningful codes, never a bare 500."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from .aws.clients import REALTIME_READ_TIMEOUT_SECONDS

JSON = "application/json"
JOBS_ROUTE = "/v1/jobs"
# A synchronous Lambda answer holds at most 6 MB ("Lambda quotas": invocation payload, request
# and response). The model's body travels base64-encoded inside it (4 bytes per 3), beside the
# status and headers (64 KiB kept for them): 4,669,440 bytes of raw body at most.
LAMBDA_RESPONSE_BYTES = 6 * 1024 * 1024
REALTIME_RESPONSE_LIMIT_BYTES = (LAMBDA_RESPONSE_BYTES - 64 * 1024) // 4 * 3


def runtime_error_response(exc: ClientError | BotoCoreError, endpoint: str) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body fields) for an InvokeEndpoint error."""
    if isinstance(exc, BotoCoreError):
        return _no_answer(exc, endpoint)
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", ""))
    if code == "ModelError":
        # The container answered with an error: pass on its status and message.
        return 424, {
            "message": f"the model returned an error: {exc.response.get('OriginalMessage') or message}",
            "code": code,
            "model_status": exc.response.get("OriginalStatusCode"),
            "log_stream": exc.response.get("LogStreamArn"),
        }
    if code in ("ThrottlingException", "Throttling", "TooManyRequestsException"):
        return 429, {"message": "SageMaker is throttling requests; retry with backoff", "code": code}
    if code in ("ValidationError", "ValidationException") and (
        "not found" in message.lower() or "could not find" in message.lower()
    ):
        return 404, {"message": f"endpoint {endpoint} not found", "code": code}
    if code in ("ValidationError", "ValidationException"):
        return 400, {"message": message, "code": code}
    if code in ("AccessDeniedException", "AccessDenied"):
        return 403, {"message": f"this API may not invoke endpoint {endpoint}", "code": code}
    if code in ("ModelNotReadyException", "ServiceUnavailable"):
        return 503, {"message": f"endpoint {endpoint} cannot take requests now: {message}", "code": code}
    return 502, {"message": f"SageMaker answered {code}: {message}", "code": code}


def _no_answer(exc: BotoCoreError, endpoint: str) -> tuple[int, dict[str, Any]]:
    """No answer from SageMaker at all (the real-time client makes one attempt: clients.py)."""
    if isinstance(exc, ReadTimeoutError):
        seconds = REALTIME_READ_TIMEOUT_SECONDS
        return 504, {
            "message": (
                f"endpoint {endpoint} did not answer within {seconds} s (API Gateway waits at most 29 s). "
                "The request was not sent again; the model may still finish it. For slow models, "
                f"POST {JOBS_ROUTE} with mode async: each request may run for up to an hour."
            ),
            "code": "ModelTimeout",
            "timeout_seconds": seconds,
            "jobs_route": JOBS_ROUTE,
        }
    if isinstance(exc, ConnectionError):  # connect timeout, endpoint unreachable: nothing was sent
        return 503, {"message": f"could not reach SageMaker to invoke {endpoint}; retry", "code": type(exc).__name__}
    return 502, {"message": f"could not call SageMaker: {exc}", "code": type(exc).__name__}


def response_too_large(endpoint: str, size: int) -> tuple[int, dict[str, Any]]:
    """A model answer the real-time route cannot return: a JSON 502 naming the job route, instead
    of the bare 502 API Gateway would give for the failed invocation (docs/decisions.md)."""
    return 502, {
        "message": (
            f"endpoint {endpoint} answered {size} bytes; the real-time route returns at most "
            f"{REALTIME_RESPONSE_LIMIT_BYTES} (Lambda's 6 MB response, base64). POST {JOBS_ROUTE} "
            "with mode async: the result is written to S3 whatever its size."
        ),
        "code": "ResponseTooLarge",
        "response_bytes": size,
        "limit_bytes": REALTIME_RESPONSE_LIMIT_BYTES,
        "jobs_route": JOBS_ROUTE,
    }


def json_error(status: int, message: str, **extra: Any) -> Response[str]:
    """The one error shape of the API: {"message": ..., more fields}."""
    return Response(status_code=status, content_type=JSON, body=json.dumps({"message": message, **extra}, default=str))


def install_error_handlers(app: APIGatewayRestResolver) -> None:
    """Validation, content-type and unreadable-body errors as 4xx JSON, never a traceback."""

    def invalid_request(exc: RequestValidationError) -> Response[str]:
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()]
        return json_error(422, "the request does not match the API", errors=errors)

    def unsupported_content_type(exc: RequestUnsupportedContentType) -> Response[str]:
        return json_error(415, "this route takes a JSON body (Content-Type: application/json)")

    def unreadable(exc: ValueError) -> Response[str]:
        # Malformed JSON and undecodable bodies surface as ValueError from the resolver.
        return json_error(400, f"the request could not be read: {exc}")

    app.exception_handler(RequestValidationError)(invalid_request)
    app.exception_handler(RequestUnsupportedContentType)(unsupported_content_type)
    app.exception_handler(ValueError)(unreadable)
