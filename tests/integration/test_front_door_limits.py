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
    assert answer["timeout_seconds"] == clients.REALTIME_RUNTIME_CONFIG.read_timeout
    assert "/v1/jobs" in answer["message"] and "not sent again" in answer["message"]
