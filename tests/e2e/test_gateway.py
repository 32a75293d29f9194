"""python -m sandbox serve checks SigV4 signatures and caller policies as API Gateway does.

Requests are signed by botocore (through the real client, or by hand where a test needs a
signature the client would never make), sent over HTTP, and refused with API Gateway's 403s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.session import Session

from rollout_client import ApiError, RolloutClient
from sandbox.gateway import CLIENT, OPERATOR, OTHER_CLIENT, OUTSIDER, VIEWER, Principal

from .serve import served

HTTP = urllib3.PoolManager()


@pytest.fixture(scope="module")
def ready() -> Iterator[dict[str, Any]]:
    with served() as line:
        yield line


def client(api: str, access_key: str, secret_key: str) -> RolloutClient:
    session = Session()
    session.set_credentials(access_key, secret_key)
    return RolloutClient(api, region="us-east-1", session=session)


def as_(ready: dict[str, Any], principal: Principal) -> RolloutClient:
    return client(ready["api"], principal.access_key, principal.secret_key)


def refused(call: Any) -> ApiError:
    with pytest.raises(ApiError) as error:
        call()
    return error.value


def signed(
    method: str, url: str, body: bytes = b"", key: tuple[str, str] = (CLIENT.access_key, CLIENT.secret_key), **kw: Any
) -> urllib3.BaseHTTPResponse:
    """Sign as SigV4Auth.add_auth does, at ``at`` (default now), then send ``send_body`` if given."""
    at: datetime = kw.get("at") or datetime.now(UTC)
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    request.context["timestamp"] = stamp
    request.headers["X-Amz-Date"] = stamp
    signer = SigV4Auth(Credentials(*key), kw.get("service", "execute-api"), "us-east-1")
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    names = signer.signed_headers(signer.headers_to_sign(request))
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, SignedHeaders={names}, Signature={signature}"
    )
    sent = kw.get("send_body", body)
    return HTTP.request(method, url, body=sent or None, headers=dict(request.headers.items()))


def message(response: urllib3.BaseHTTPResponse) -> str:
    assert response.status == 403, response.data
    return str(json.loads(response.data)["message"])


def test_the_right_signature_gets_through(ready):
    response = signed("GET", f"{ready['api']}/v1/jobs/{'0' * 32}")
    assert response.status == 404  # the function's answer: the gateway let it through


def test_a_wrong_secret_is_refused(ready):
    error = refused(lambda: client(ready["api"], CLIENT.access_key, "not-the-secret").job("0" * 32))
    assert error.status == 403
    assert error.message.startswith("The request signature we calculated does not match the signature you provided.")
    assert "The String-to-Sign should have been" in error.message


def test_an_unknown_access_key_is_refused(ready):
    error = refused(lambda: client(ready["api"], "AKIANOBODY0000000000", "whatever").job("0" * 32))
    assert (error.status, error.message) == (403, "The security token included in the request is invalid.")


def test_the_signature_covers_the_body_and_the_time(ready):
    url = f"{ready['api']}/v1/jobs"
    good = b'{"target": "churn-model", "content_type": "text/csv"}'
    changed = b'{"target": "churn-model", "content_type": "text/plain"}'
    assert "signature we calculated does not match" in message(signed("POST", url, good, send_body=changed))
    stale = datetime.now(UTC) - timedelta(minutes=6)
    assert message(signed("POST", url, good, at=stale)).startswith("Signature expired: ")
    early = datetime.now(UTC) + timedelta(minutes=6)
    assert message(signed("POST", url, good, at=early)).startswith("Signature not yet current: ")
    assert "correct service" in message(signed("POST", url, good, service="s3"))
    assert signed("POST", url, good).status == 201


def test_unsigned_requests_and_unknown_routes(ready):
    assert message(HTTP.request("GET", f"{ready['api']}/v1/rollouts")) == "Missing Authentication Token"
    assert message(signed("GET", f"{ready['api']}/v1/nothing-here")) == "Missing Authentication Token"


def test_a_client_cannot_command_a_rollout_a_viewer_only_sees_them(ready):
    operator, viewer, inference = as_(ready, OPERATOR), as_(ready, VIEWER), as_(ready, CLIENT)
    rollout_id = operator.start_rollout(ready["approved_package"])["rollout_id"]
    for who in (inference, viewer):
        error = refused(lambda who=who: who.steer(rollout_id, "abort"))
        assert error.status == 403
        assert "is not authorized to perform: execute-api:Invoke on resource: " in error.message
        assert f"/POST/v1/rollouts/{rollout_id}/abort" in error.message
    assert refused(inference.rollouts).status == 403
    assert rollout_id in {r["rollout_id"] for r in viewer.rollouts()}
    history = operator.rollout(rollout_id)["history"]
    assert not [h for h in history if "abort" in h["event"] or CLIENT.arn in h["reason"] or VIEWER.arn in h["reason"]]
    assert f"started by {OPERATOR.arn}" in history[0]["reason"]


def test_a_job_is_its_owners(ready):
    owner, other, operator = as_(ready, CLIENT), as_(ready, OTHER_CLIENT), as_(ready, OPERATOR)
    job_id = owner.create_job("text/csv", endpoint="churn-endpoint")["job_id"]
    assert owner.job(job_id)["owner"] == CLIENT.arn
    error = refused(lambda: other.job(job_id))
    assert (error.status, error.message) == (404, f"no job {job_id}")
    found = json.loads(operator.request("GET", f"/v1/operator/jobs/{job_id}").data)
    assert found["owner"] == CLIENT.arn
    assert refused(lambda: owner.request("GET", f"/v1/operator/jobs/{job_id}")).status == 403


def test_a_caller_of_another_account_is_refused(ready):
    error = refused(lambda: as_(ready, OUTSIDER).rollouts())
    assert error.status == 403
    assert error.message.endswith("with an explicit deny")


def test_the_ready_line_lists_the_principals(ready):
    principals = ready["principals"]
    assert principals["inference-client"]["access_key"] == CLIENT.access_key
    assert principals["rollout-operator"]["caller_policies"] == ["RolloutOperatorPolicy"]
