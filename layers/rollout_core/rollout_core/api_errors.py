"""SageMaker Runtime errors as HTTP answers: meaningful codes, never a bare 500."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def runtime_error_response(exc: ClientError, endpoint: str) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body fields) for an InvokeEndpoint error."""
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
