"""The real-time route at its limits: a model slower than API Gateway waits, a response larger
than Lambda can return. Each answer is a JSON error that names the job route, never a bare 5XX."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from rollout_core.aws import clients
from sandbox.calls import BaseListener, Call, hooks
from sandbox.stack import Sandbox

INVOKE = "/v1/endpoints/churn-endpoint/invocations"


def json_body(response: dict[str, Any]) -> dict[str, Any]:
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    raw = response["body"]
    parsed: dict[str, Any] = json.loads(base64.b64decode(raw) if response.get("isBase64Encoded") else raw)
    return parsed


class ModelTooSlow(BaseListener):
    """Every HTTP attempt of InvokeEndpoint times out reading the answer, as botocore reports a
    socket read that outlasts ``read_timeout`` (raised from before-send, where botocore's
    retry logic catches it like a real one)."""

    def __init__(self) -> None:
        self.attempts = 0

    def on_send(self, call: Call, attempt: int) -> AWSResponse | None:
        if call.operation != "InvokeEndpoint":
            return None
        self.attempts += 1
        raise ReadTimeoutError(endpoint_url=call.url)


@pytest.fixture
def slow_model(serving_stack: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelTooSlow]:
    monkeypatch.setattr("time.sleep", lambda _s: None)  # botocore's retry backoff
    listener = hooks.subscribe(ModelTooSlow())
    try:
        yield listener
    finally:
        hooks.unsubscribe(listener)


def test_a_slow_model_is_asked_once_and_the_caller_gets_a_504_naming_the_job_route(
    serving_stack: Sandbox, slow_model: ModelTooSlow
):
    """InvokeEndpoint is not idempotent: after a read timeout it must not be sent again (the
    caller has its answer from API Gateway by then)."""
    response = serving_stack.api("POST", INVOKE, b"1,2,3", {"Content-Type": "text/csv"})
    assert slow_model.attempts == 1
    assert response["statusCode"] == 504
    answer = json_body(response)
    assert answer["jobs_route"] == "/v1/jobs"
    assert answer["timeout_seconds"] == clients.REALTIME_READ_TIMEOUT_SECONDS
    assert "/v1/jobs" in answer["message"] and "not sent again" in answer["message"]


# --- responses larger than Lambda can return ----------------------------------------------------

# "Invocation payload (request and response): 6 MB each for request and response (synchronous)"
# (Lambda quotas). API Gateway's proxy integration takes the function's JSON answer, the body
# base64-encoded inside it; a larger answer fails the invocation and API Gateway answers 502.
LAMBDA_RESPONSE_BYTES = 6 * 1024 * 1024


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data

    def read(self, *_: Any) -> bytes:
        data, self._data = self._data, b""
        return data


class ModelAnswers(BaseListener):
    """InvokeEndpoint answers ``size`` bytes, as SageMaker's response would carry them
    (InvokeEndpoint API reference: Body, Content-Type, x-Amzn-Invoked-Production-Variant)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def on_send(self, call: Call, attempt: int) -> AWSResponse | None:
        if call.operation != "InvokeEndpoint":
            return None
        headers = {"Content-Type": "application/octet-stream", "x-Amzn-Invoked-Production-Variant": "v1"}
        return AWSResponse(call.url, 200, headers, _Body(b"\x01" * self.size))  # type: ignore[arg-type]


def test_the_response_limit_fits_lambdas_payload():
    from rollout_core.api_errors import REALTIME_RESPONSE_LIMIT_BYTES

    assert REALTIME_RESPONSE_LIMIT_BYTES > 4_500_000
    assert 4 * -(-REALTIME_RESPONSE_LIMIT_BYTES // 3) < LAMBDA_RESPONSE_BYTES


def test_a_response_too_large_for_lambda_is_a_json_error_naming_the_job_route(serving_stack: Sandbox):
    """Both sides of the limit (one stack: an answer changes nothing on it)."""
    from rollout_core.api_errors import REALTIME_RESPONSE_LIMIT_BYTES

    for extra in (0, 1, 200_000):
        size = REALTIME_RESPONSE_LIMIT_BYTES + extra
        listener = hooks.subscribe(ModelAnswers(size))
        try:
            response = serving_stack.api("POST", INVOKE, b"1,2,3", {"Content-Type": "text/csv"})
        finally:
            hooks.unsubscribe(listener)
        # What Lambda would hand to API Gateway must fit Lambda's limit, whatever the answer.
        assert len(json.dumps(response).encode()) <= LAMBDA_RESPONSE_BYTES, extra
        if extra == 0:
            assert response["statusCode"] == 200
            assert len(base64.b64decode(response["body"])) == size
            continue
        assert response["statusCode"] == 502, extra
        answer = json_body(response)
        assert answer["code"] == "ResponseTooLarge"
        assert (answer["response_bytes"], answer["limit_bytes"]) == (size, REALTIME_RESPONSE_LIMIT_BYTES)
        assert answer["jobs_route"] == "/v1/jobs" and "/v1/jobs" in answer["message"]
