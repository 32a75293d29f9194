"""Inference API on moto: real-time route, limits and error mapping, job routes, OpenAPI."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.jobs_ext import RuntimeError_
from sandbox.stack import Sandbox

INVOKE = "/v1/endpoints/churn-endpoint/invocations"
LIMIT = 4_500_000


def body_of(response: dict[str, Any]) -> bytes:
    raw = response["body"] or ""
    return base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()


def header(response: dict[str, Any], name: str) -> str | None:
    values = {k.lower(): v for k, v in (response.get("multiValueHeaders") or {}).items()}
    found = values.get(name.lower())
    return found[0] if found else (response.get("headers") or {}).get(name)


def json_of(response: dict[str, Any]) -> dict[str, Any]:
    assert header(response, "Content-Type") == "application/json"
    parsed: dict[str, Any] = json.loads(body_of(response))
    return parsed


def test_small_payload_comes_straight_back_with_its_variant(serving_stack: Sandbox):
    response = serving_stack.api(
        "POST", INVOKE, b"1.0,2.0,3.0", {"Content-Type": "text/csv", "Accept": "application/json"}
    )
    assert response["statusCode"] == 200
    prediction = json.loads(body_of(response))
    assert header(response, "X-Invoked-Variant") == prediction["variant"]
    request = serving_stack.jobs.requests[-1]
    assert (request["content_type"], request["accept"]) == ("text/csv", "application/json")


def test_target_variant_is_passed_on(serving_stack: Sandbox):
    variant = next(iter(serving_stack.endpoint_weights("churn-endpoint") or {}))
    response = serving_stack.api("POST", INVOKE, b"1", {"Content-Type": "text/csv", "X-Target-Variant": variant})
    assert response["statusCode"] == 200
    assert serving_stack.jobs.requests[-1]["target_variant"] == variant


@pytest.mark.parametrize(("size", "status"), [(LIMIT - 1, 200), (LIMIT, 200), (LIMIT + 1, 413)])
def test_real_time_limit_on_both_sides(serving_stack: Sandbox, size: int, status: int):
    response = serving_stack.api("POST", INVOKE, b"7" * size, {"Content-Type": "text/csv"})
    assert response["statusCode"] == status
    if status == 413:
        answer = json_of(response)
        assert answer["limit_bytes"] == LIMIT
        assert answer["jobs_route"] == "/v1/jobs"
        assert "/v1/jobs" in answer["message"]
        assert serving_stack.jobs.requests == [], "an oversized body must never reach SageMaker"


@pytest.mark.parametrize(
    ("size", "status", "message"),
    [
        # Base64 in the event, over Lambda's 6 MB invocation payload: Lambda refuses it and the
        # gateway's 5XX response (template.yaml DEFAULT_5XX) points at the job route.
        (4_800_000, 502, "Internal server error"),
        (9_000_000, 502, "Internal server error"),
        # Over API Gateway's own 10 MB: its REQUEST_TOO_LARGE response (template.yaml).
        (11_000_000, 413, "POST /v1/jobs"),
    ],
)
def test_bodies_lambda_or_the_gateway_refuse_never_reach_the_function(
    serving_stack: Sandbox, size: int, status: int, message: str
):
    """README, Limits: bodies between 4.5 MB and 10 MB are refused by Lambda before our code
    runs, larger ones by API Gateway; both answers say where large payloads go."""
    invoked: list[str] = []
    handler = serving_stack.handlers["InferenceApiFunction"]

    def spy(event: dict[str, Any], context: Any) -> Any:
        invoked.append(event["path"])
        return handler(event, context)

    serving_stack.handlers["InferenceApiFunction"] = spy
    response = serving_stack.api("POST", INVOKE, b"7" * size, {"Content-Type": "text/csv"})
    assert response["statusCode"] == status
    answer = json_of(response)
    assert message in answer["message"]
    assert "/v1/jobs" in json.dumps(answer)
    assert invoked == [], "the function never sees the request"
    assert serving_stack.jobs.requests == []


@pytest.mark.parametrize(
    ("error", "status", "text"),
    [
        (RuntimeError_("ThrottlingException", "Rate exceeded"), 429, "throttling"),
        (RuntimeError_("ValidationError", "Invalid content type text/foo"), 400, "Invalid content type"),
        (RuntimeError_("ServiceUnavailable", "try later"), 503, "cannot take requests"),
        (RuntimeError_("InternalFailure", "oops"), 502, "InternalFailure"),
        (RuntimeError_("ModelNotReadyException", "loading"), 503, "cannot take requests"),
    ],
)
def test_sagemaker_errors_map_to_meaningful_codes(serving_stack: Sandbox, monkeypatch, error, status, text):
    monkeypatch.setattr("time.sleep", lambda _s: None)  # botocore's retry backoff
    serving_stack.jobs.errors_next = [error] * 5  # more than the client's attempts
    response = serving_stack.api("POST", INVOKE, b"1", {"Content-Type": "text/csv"})
    assert response["statusCode"] == status
    assert text in json_of(response)["message"]


def test_model_error_is_424_with_the_models_message(serving_stack: Sandbox):
    serving_stack.jobs.model_errors["churn-endpoint"] = (500, "division by zero in predict()")
    response = serving_stack.api("POST", INVOKE, b"1", {"Content-Type": "text/csv"})
    assert response["statusCode"] == 424
    answer = json_of(response)
    assert "division by zero in predict()" in answer["message"]
    assert answer["model_status"] == 500


def test_missing_endpoint_is_404(serving_stack: Sandbox):
    response = serving_stack.api(
        "POST", "/v1/endpoints/churn-endpoint-nope/invocations", b"1", {"Content-Type": "text/csv"}
    )
    assert response["statusCode"] == 404
    assert "churn-endpoint-nope" in json_of(response)["message"]


@pytest.mark.parametrize(
    ("path", "body", "headers", "status"),
    [
        ("/v1/endpoints/Bad_Name!/invocations", b"1", {}, 422),
        (INVOKE, b"", {"Content-Type": "text/csv"}, 400),
        (INVOKE, b"1", {"X-Target-Variant": "no/slashes"}, 400),
        ("/v1/nothing-here", b"1", {}, 403),  # API Gateway: "Missing Authentication Token"
    ],
)
def test_malformed_requests_are_4xx_json(serving_stack: Sandbox, path, body, headers, status):
    response = serving_stack.api("POST", path, body, headers)
    assert response["statusCode"] == status
    assert "message" in json.loads(body_of(response))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Bad_Name!", "String should match pattern '^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$'"),
        ("-leading-hyphen", "String should match pattern '^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$'"),
        ("a" * 64, "String should have at most 63 characters"),
    ],
)
def test_invalid_endpoint_name_is_422_naming_the_path_parameter(serving_stack: Sandbox, name, message):
    """The invocations route checks its path itself (no resolver validation): same answer as the
    validated routes give, and SageMaker is not called."""
    response = serving_stack.api("POST", f"/v1/endpoints/{name}/invocations", b"1", {"Content-Type": "text/csv"})
    assert response["statusCode"] == 422
    assert json_of(response) == {
        "message": "the request does not match the API",
        "errors": [{"loc": ["path", "endpoint"], "msg": message}],
    }
    assert serving_stack.jobs.requests == []


def test_invalid_base64_body_is_400(serving_stack: Sandbox):
    event_body = "%%%not-base64%%%"
    handler = serving_stack.handlers["InferenceApiFunction"]
    from sandbox.stack import LambdaContext

    response = handler(
        {
            "resource": INVOKE,
            "path": INVOKE,
            "httpMethod": "POST",
            "headers": {},
            "multiValueHeaders": {},
            "queryStringParameters": None,
            "pathParameters": None,
            "requestContext": {"requestId": "r", "stage": "t"},
            "body": event_body,
            "isBase64Encoded": True,
        },
        LambdaContext("InferenceApiFunction"),
    )
    assert response["statusCode"] == 400


def test_openapi_document_lists_every_route(serving_stack: Sandbox):
    response = serving_stack.api("GET", "/v1/openapi.json")
    assert response["statusCode"] == 200
    spec = json_of(response)
    assert set(spec["paths"]) == {
        "/v1/endpoints/{endpoint}/invocations",
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/v1/operator/jobs/{job_id}",
    }
    assert "JobRequest" in spec["components"]["schemas"]


def test_access_denied_is_403(serving_stack: Sandbox):
    serving_stack.jobs.errors_next = [RuntimeError_("AccessDeniedException", "not authorized")]
    response = serving_stack.api("POST", INVOKE, b"1", {"Content-Type": "text/csv"})
    assert response["statusCode"] == 403


def test_jobs_route_wants_json(serving_stack: Sandbox):
    response = serving_stack.api("POST", "/v1/jobs", b"target=churn-model", {"Content-Type": "text/plain"})
    assert response["statusCode"] == 415
    assert "JSON" in json_of(response)["message"]


def test_openapi_document_matches_the_snapshot(serving_stack: Sandbox):
    """A change of the API's contract shows up here; refresh the snapshot on purpose."""
    spec = json_of(serving_stack.api("GET", "/v1/openapi.json"))
    snapshot = Path(__file__).with_name("openapi.snapshot.json")
    assert spec == json.loads(snapshot.read_text()), f"the OpenAPI document changed; review and update {snapshot}"


def test_endpoint_outside_the_stack_is_404_without_calling_sagemaker(serving_stack: Sandbox):
    response = serving_stack.api("POST", "/v1/endpoints/someone-elses/invocations", b"1", {"Content-Type": "text/csv"})
    assert response["statusCode"] == 404
    assert "not served by this API" in json_of(response)["message"]
    assert serving_stack.jobs.requests == []
