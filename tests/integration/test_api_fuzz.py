"""Fuzz the inference API: malformed paths, headers and bodies get a 4xx JSON answer, never a 5xx.

The generated requests can name no real resource (the endpoint and target names are kept off
the stack's), so none of them is a valid request: each must be answered with a 4xx, not merely
"not a 5xx" (a 200 or a 3xx for a malformed request is a defect too).
"""

from __future__ import annotations

import base64
import json
import string
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sandbox.stack import Sandbox

name_chars = st.text(alphabet=string.ascii_letters + string.digits + "-_./%!~ ", min_size=0, max_size=70)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12,
)
job_fields = st.fixed_dictionaries(
    {},
    optional={
        "target": st.one_of(st.text(max_size=70), json_values),
        "endpoint": st.one_of(name_chars, json_values),
        "mode": st.one_of(st.sampled_from(["async", "batch", "auto", "ASYNC", ""]), json_values),
        "content_type": st.one_of(st.sampled_from(["text/csv", "application/json", "nope", ""]), json_values),
        "accept": st.one_of(st.text(max_size=20), json_values),
        "split_type": st.one_of(st.sampled_from(["None", "Line", "RecordIO", "bad"]), json_values),
        "extra": json_values,
    },
)
bodies = st.one_of(
    st.binary(max_size=2000),
    job_fields.map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.none(),
)
headers = st.dictionaries(
    st.sampled_from(["Content-Type", "Accept", "X-Target-Variant", "content-type", "X-Random"]),
    st.text(alphabet=string.printable, max_size=40),
    max_size=4,
)
paths = st.one_of(
    name_chars.map(lambda n: f"/v1/endpoints/{n}/invocations"),
    name_chars.map(lambda n: f"/v1/jobs/{n}"),
    st.just("/v1/jobs"),
    name_chars.map(lambda n: f"/{n}"),
    st.text(alphabet=string.printable, max_size=40).map(lambda t: "/v1/" + t),
)
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])
# Half the requests go to a route the API has, with its method, so that most reach a handler
# (random paths and methods mostly get API Gateway's own 403 "Missing Authentication Token").
segment = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=64)
routed = st.one_of(
    st.tuples(st.just("POST"), st.one_of(name_chars, segment).map(lambda n: f"/v1/endpoints/{n}/invocations")),
    st.tuples(st.just("POST"), st.just("/v1/jobs")),
    st.tuples(st.just("GET"), st.one_of(name_chars, segment).map(lambda n: f"/v1/jobs/{n}")),
)
requests = st.one_of(routed, st.tuples(methods, paths))


def decoded(response: dict[str, Any]) -> bytes:
    raw = response.get("body") or ""
    return base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(request=requests, body=bodies, request_headers=headers)
def test_malformed_requests_get_a_4xx(serving_stack: Sandbox, request, body, request_headers):
    method, path = request
    if path.startswith("/v1/endpoints/churn-endpoint/"):
        path = path.replace("churn-endpoint", "churn-endpoint-x", 1)  # only non-existent endpoints
    assume(not could_be_valid(method, path, body))
    response = serving_stack.api(method, path, body, request_headers)
    status = response["statusCode"]
    assert 400 <= status < 500, (status, decoded(response)[:300])
    answer = json.loads(decoded(response))
    assert isinstance(answer, dict)
    assert "message" in answer
    assert "Traceback" not in json.dumps(answer)


# The stack's own names: a request naming them may be a valid one (kept out of the fuzz).
REAL_NAMES = ("churn-model", "churn-endpoint")


def could_be_valid(method: str, path: str, body: bytes | None) -> bool:
    """A request that names a real resource, or a route that takes no input at all."""
    if (method, path.split("?", maxsplit=1)[0].rstrip("/")) in {("GET", "/v1/openapi.json"), ("GET", "/v1/rollouts")}:
        return True
    try:
        fields = json.loads(body or b"")
    except ValueError:
        return False
    return isinstance(fields, dict) and any(fields.get(key) in REAL_NAMES for key in ("target", "endpoint"))


def test_the_fuzz_keeps_only_requests_that_cannot_be_valid():
    assert could_be_valid("GET", "/v1/openapi.json", None)
    assert could_be_valid("POST", "/v1/jobs", b'{"target": "churn-model", "content_type": "text/csv"}')
    assert not could_be_valid("POST", "/v1/jobs", b'{"target": "fraud-model", "content_type": "text/csv"}')
    assert not could_be_valid("POST", "/v1/jobs", b"\xff")
