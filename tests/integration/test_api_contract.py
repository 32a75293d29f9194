"""The OpenAPI documents declare exactly the statuses the routes answer.

Each route is sent one request per status it can answer; the status must be the expected one,
and the set of statuses sent must equal the set the route declares (``responses=``,
rollout_core/api_docs.py). A status a route answers but does not declare, or declares but never
answers, fails here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from sandbox.jobs_ext import RuntimeError_
from sandbox.stack import Sandbox
from tests.conftest import ASYNC_TARGET

from .test_inference_api import body_of

JSON = {"Content-Type": "application/json"}
CSV = {"Content-Type": "text/csv"}
INVOKE = "/v1/endpoints/{endpoint}/invocations"
JOBS = "/v1/jobs"
JOB = "/v1/jobs/{job_id}"
ANY_JOB = "/v1/operator/jobs/{job_id}"
ROLLOUTS = "/v1/rollouts"
ROLLOUT = "/v1/rollouts/{rollout_id}"
STEER = "/v1/rollouts/{rollout_id}/{action}"
DOCTOR = "/v1/endpoints/{endpoint}/doctor"
VERSIONS = "/v1/versions"


class Contract:
    """Sends requests, keeps which status each (method, route) answered."""

    def __init__(self, stack: Sandbox) -> None:
        self.stack = stack
        self.seen: dict[tuple[str, str], set[int]] = defaultdict(set)

    def send(self, status: int, method: str, route: str, path: str, body: Any = None, headers: Any = None) -> Any:
        raw = json.dumps(body) if isinstance(body, dict) else body
        response = self.stack.api(method, path, raw, headers if headers is not None else (JSON if body else {}))
        assert response["statusCode"] == status, (method, path, response["statusCode"], response["body"][:300])
        self.seen[(method.lower(), route)].add(status)
        raw_body = body_of(response)
        return json.loads(raw_body) if raw_body.startswith(b"{") else None

    def check(self, spec: dict[str, Any]) -> None:
        declared = {
            (method, route): {int(code) for code in operation["responses"]}
            for route, operations in spec["paths"].items()
            for method, operation in operations.items()
        }
        assert set(declared) == set(self.seen), "a route was not tried, or is not in the document"
        wrong = {
            key: (sorted(declared[key]), sorted(self.seen[key])) for key in declared if declared[key] != self.seen[key]
        }
        assert not wrong, f"declared vs answered: {wrong}"


def test_the_inference_api_declares_what_it_answers(serving_stack: Sandbox):
    c = Contract(serving_stack)
    invoke = INVOKE.format(endpoint="churn-endpoint")
    c.send(200, "POST", INVOKE, invoke, b"1,2", CSV)
    c.send(400, "POST", INVOKE, invoke, b"", CSV)
    c.send(404, "POST", INVOKE, INVOKE.format(endpoint="churn-endpoint-nope"), b"1", CSV)
    c.send(404, "POST", INVOKE, INVOKE.format(endpoint="someone-elses"), b"1", CSV)
    c.send(413, "POST", INVOKE, invoke, b"7" * 4_500_001, CSV)
    c.send(422, "POST", INVOKE, INVOKE.format(endpoint="Bad_Name!"), b"1", CSV)
    serving_stack.jobs.model_errors["churn-endpoint"] = (500, "division by zero")
    c.send(424, "POST", INVOKE, invoke, b"1", CSV)
    del serving_stack.jobs.model_errors["churn-endpoint"]
    for code, status in (
        ("AccessDeniedException", 403),
        ("ThrottlingException", 429),
        ("InternalFailure", 502),
        ("ServiceUnavailable", 503),
    ):
        serving_stack.jobs.errors_next = [RuntimeError_(code, "from SageMaker")] * 5  # beyond the client's retries
        c.send(status, "POST", INVOKE, invoke, b"1", CSV)
    serving_stack.jobs.errors_next = []

    job = c.send(201, "POST", JOBS, JOBS, {"target": "churn-model", "content_type": "text/csv"})
    c.send(400, "POST", JOBS, JOBS, b"\xff\xfe{", JSON)  # not UTF-8: unreadable
    c.send(422, "POST", JOBS, JOBS, b"{not json", JSON)
    c.send(
        400,
        "POST",
        JOBS,
        JOBS,
        {"target": "churn-model", "content_type": "text/csv", "mode": "async", "split_type": "Line"},
    )
    c.send(404, "POST", JOBS, JOBS, {"target": "fraud-model", "content_type": "text/csv"})
    plain = ASYNC_TARGET.model_copy(
        update={
            "model_package_group": "plain-model",
            "inference": ASYNC_TARGET.inference.model_copy(update={"async_endpoint_name": None}),
        }
    )
    serving_stack.put_target(plain.model_dump_json(), "plain-model")
    c.send(409, "POST", JOBS, JOBS, {"target": "plain-model", "mode": "async", "content_type": "text/csv"})
    c.send(415, "POST", JOBS, JOBS, b"target=churn-model", {"Content-Type": "text/plain"})
    c.send(422, "POST", JOBS, JOBS, {"content_type": "text/csv"})

    c.send(200, "GET", JOB, f"{JOBS}/{job['job_id']}")
    c.send(404, "GET", JOB, f"{JOBS}/{'0' * 32}")
    c.send(422, "GET", JOB, f"{JOBS}/not-a-job")
    c.send(200, "GET", ANY_JOB, f"/v1/operator/jobs/{job['job_id']}")
    c.send(404, "GET", ANY_JOB, f"/v1/operator/jobs/{'0' * 32}")
    c.send(422, "GET", ANY_JOB, "/v1/operator/jobs/not-a-job")

    spec = c.send(200, "GET", "/v1/openapi.json", "/v1/openapi.json")
    del c.seen[("get", "/v1/openapi.json")]  # the document itself is not in the document
    c.check(spec)


def test_the_rollout_api_declares_what_it_answers(serving_stack: Sandbox):
    c = Contract(serving_stack)
    approved = serving_stack.client("sagemaker").list_model_packages(ModelPackageGroupName="churn-model")
    package = approved["ModelPackageSummaryList"][0]["ModelPackageArn"]
    c.send(200, "GET", ROLLOUTS, ROLLOUTS)
    c.send(400, "GET", ROLLOUTS, f"{ROLLOUTS}?next_token=garbage")
    c.send(422, "GET", ROLLOUTS, f"{ROLLOUTS}?limit=0")

    started = c.send(201, "POST", ROLLOUTS, ROLLOUTS, {"model_package_arn": package})
    c.send(400, "POST", ROLLOUTS, ROLLOUTS, b"\xff\xfe{", JSON)  # not UTF-8: unreadable
    c.send(422, "POST", ROLLOUTS, ROLLOUTS, b"{not json", JSON)
    c.send(404, "POST", ROLLOUTS, ROLLOUTS, {"model_package_arn": package.rsplit("/", 1)[0] + "/42"})
    pending = serving_stack.register_package("churn-model")
    c.send(409, "POST", ROLLOUTS, ROLLOUTS, {"model_package_arn": pending})
    c.send(415, "POST", ROLLOUTS, ROLLOUTS, b"model_package_arn=x", {"Content-Type": "text/plain"})
    c.send(422, "POST", ROLLOUTS, ROLLOUTS, {"model_package_arn": "not an arn"})

    rollout = f"{ROLLOUTS}/{started['rollout_id']}"
    c.send(200, "GET", ROLLOUT, rollout)
    c.send(404, "GET", ROLLOUT, f"{ROLLOUTS}/0123456789")
    c.send(422, "GET", ROLLOUT, f"{ROLLOUTS}/not-an-id")

    c.send(409, "POST", STEER, f"{rollout}/resume")  # not paused
    c.send(200, "POST", STEER, f"{rollout}/pause")
    c.send(404, "POST", STEER, f"{ROLLOUTS}/0123456789/pause")
    c.send(422, "POST", STEER, f"{rollout}/explode")

    c.send(200, "GET", DOCTOR, "/v1/endpoints/churn-endpoint/doctor")
    c.send(404, "GET", DOCTOR, "/v1/endpoints/no-such-endpoint/doctor")
    c.send(422, "GET", DOCTOR, "/v1/endpoints/not_a_name!/doctor")
    c.send(200, "GET", VERSIONS, f"{VERSIONS}?group=churn-model")
    c.send(404, "GET", VERSIONS, f"{VERSIONS}?group=fraud-model")
    c.send(422, "GET", VERSIONS, f"{VERSIONS}?group=Bad_Name!")

    spec = (
        serving_stack.modules["RolloutApiFunction"]
        .app.get_openapi_schema()
        .model_dump(mode="json", by_alias=True, exclude_none=True)
    )
    c.check(spec)
