"""Who may do what, on moto: callers holding the stack's caller policies, and jobs that belong to
who created them. API Gateway's authorization is the sandbox's (sandbox/gateway.py): a refused
request never reaches a function."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from sandbox.gateway import ADMIN, CLIENT, OPERATOR, OTHER_CLIENT, OUTSIDER, VIEWER, Principal
from sandbox.stack import REGION, TABLE, Sandbox

from .helpers import register, rollout_for

JSON = {"Content-Type": "application/json"}


def call(stack: Sandbox, principal: Principal, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    raw = None if body is None else json.dumps(body)
    response = stack.api(method, path, raw, JSON if raw else {}, principal=principal)
    text = response["body"]
    if response.get("isBase64Encoded"):
        text = base64.b64decode(text).decode()
    return response["statusCode"], json.loads(text)


def counting(stack: Sandbox, function: str) -> list[str]:
    """The paths ``function`` is invoked for from now on."""
    seen: list[str] = []
    handler = stack.handlers[function]

    def counted(event: dict[str, Any], context: Any) -> Any:
        seen.append(event["path"])
        return handler(event, context)

    stack.handlers[function] = counted
    return seen


@pytest.fixture
def baking(stack: Sandbox) -> tuple[Sandbox, str]:
    """v1 serving, v2 baking at 10 %: (stack, v2's rollout id)."""
    arns = register(stack, 2)
    stack.set_approval(arns[0], "Approved")
    stack.advance(180)
    stack.set_approval(arns[1], "Approved")
    stack.advance(360)
    stack.notifications()  # drop what was announced so far
    return stack, rollout_for(arns[1]).rollout_id


def test_a_client_a_viewer_or_another_account_cannot_command_a_rollout(baking):
    stack, rollout_id = baking
    before = next(r for r in _rollouts() if r["rollout_id"] == rollout_id)
    reached = counting(stack, "RolloutApiFunction")
    for principal in (CLIENT, VIEWER):
        for action in ("pause", "promote", "abort"):
            status, body = call(stack, principal, "POST", f"/v1/rollouts/{rollout_id}/{action}")
            assert status == 403
            assert body["message"] == (
                f"User: {principal.arn} is not authorized to perform: execute-api:Invoke on resource: "
                f"arn:aws:execute-api:us-east-1:123456789012:sandboxapi/sandbox/POST/v1/rollouts/{rollout_id}/{action} "
                "because no identity-based policy allows the execute-api:Invoke action"
            )
        assert call(stack, principal, "POST", "/v1/rollouts", {"model_package_arn": "x"})[0] == 403
    # Another account, with execute-api:Invoke on "*" of its own: the resource policy refuses it.
    status, body = call(stack, OUTSIDER, "POST", f"/v1/rollouts/{rollout_id}/abort")
    assert status == 403
    assert body["message"].endswith("with an explicit deny")
    assert call(stack, OUTSIDER, "GET", "/v1/rollouts")[0] == 403
    assert reached == [], "a refused request reached the function"
    assert next(r for r in _rollouts() if r["rollout_id"] == rollout_id) == before, "the rollout changed"
    assert stack.notifications() == ([], []), "something was announced"


def test_a_viewer_sees_rollouts_and_an_operator_steers_them(baking):
    stack, rollout_id = baking
    status, page = call(stack, VIEWER, "GET", "/v1/rollouts?live=true")
    assert (status, [r["rollout_id"] for r in page["rollouts"]]) == (200, [rollout_id])
    assert call(stack, VIEWER, "GET", f"/v1/rollouts/{rollout_id}")[0] == 200
    assert call(stack, CLIENT, "GET", "/v1/rollouts")[0] == 403  # predictions only
    status, body = call(stack, OPERATOR, "POST", f"/v1/rollouts/{rollout_id}/abort")
    assert status == 200, body
    assert body["phase"] == "ROLLING_BACK"
    history = call(stack, OPERATOR, "GET", f"/v1/rollouts/{rollout_id}")[1]["history"]
    assert [h["reason"] for h in history if h["event"] == "abort"] == [f"aborted by {OPERATOR.arn}"]


def test_only_named_callers_get_in_when_the_stack_names_them():
    parameters = {"EndpointName": "churn-endpoint", "ModelPackageGroupName": "churn-model"}
    with Sandbox(parameters={**parameters, "ApiAllowedPrincipals": f"{VIEWER.arn},{OPERATOR.arn}"}) as stack:
        assert call(stack, VIEWER, "GET", "/v1/rollouts")[0] == 200
        assert call(stack, OPERATOR, "GET", "/v1/rollouts")[0] == 200
        status, body = call(stack, ADMIN, "GET", "/v1/rollouts")  # execute-api:Invoke on "*" of its own
        assert status == 403
        assert body["message"].endswith("with an explicit deny")
        assert call(stack, CLIENT, "POST", "/v1/jobs", {"target": "churn-model", "content_type": "text/csv"})[0] == 403


# --- jobs belong to who created them -------------------------------------------------------


def _rollouts() -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    items = ddb.scan(TableName=TABLE, FilterExpression="sk = :r", ExpressionAttributeValues={":r": {"S": "ROLLOUT"}})
    return [json.loads(i["body"]["S"]) for i in items["Items"]]


def _create(stack: Sandbox, principal: Principal) -> str:
    status, job = call(stack, principal, "POST", "/v1/jobs", {"target": "churn-model", "content_type": "text/csv"})
    assert status == 201, job
    return str(job["job_id"])


def test_a_job_is_invisible_to_everyone_but_its_owner(serving_stack: Sandbox):
    job_id = _create(serving_stack, CLIENT)
    status, view = call(serving_stack, CLIENT, "GET", f"/v1/jobs/{job_id}")
    assert (status, view["owner"]) == (200, CLIENT.arn)
    # Another client of the same policy: the 404 of a job that does not exist, word for word.
    unknown = "0" * 32
    status, body = call(serving_stack, OTHER_CLIENT, "GET", f"/v1/jobs/{job_id}")
    assert status == 404
    assert body == {**call(serving_stack, OTHER_CLIENT, "GET", f"/v1/jobs/{unknown}")[1], "message": f"no job {job_id}"}
    assert call(serving_stack, ADMIN, "GET", f"/v1/jobs/{job_id}")[0] == 404  # a broad policy is no owner


def test_an_operator_reads_any_job_through_its_own_route(serving_stack: Sandbox):
    job_id = _create(serving_stack, CLIENT)
    status, view = call(serving_stack, OPERATOR, "GET", f"/v1/operator/jobs/{job_id}")
    assert (status, view["job_id"], view["owner"]) == (200, job_id, CLIENT.arn)
    assert call(serving_stack, OPERATOR, "GET", f"/v1/operator/jobs/{'0' * 32}")[0] == 404
    reached = counting(serving_stack, "InferenceApiFunction")
    assert call(serving_stack, CLIENT, "GET", f"/v1/operator/jobs/{job_id}")[0] == 403  # the route is the role
    assert call(serving_stack, VIEWER, "GET", f"/v1/operator/jobs/{job_id}")[0] == 403
    assert call(serving_stack, OPERATOR, "GET", f"/v1/jobs/{job_id}")[0] == 403  # the client route is not its
    assert reached == []


def test_jobs_recorded_before_owners_are_read_by_operators_only(serving_stack: Sandbox):
    job_id = _create(serving_stack, CLIENT)
    ddb = boto3.client("dynamodb", region_name=REGION)
    key = {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}
    item = ddb.get_item(TableName=TABLE, Key=key)["Item"]
    body = json.loads(item["body"]["S"])
    del body["owner"]  # as the previous release wrote it
    ddb.put_item(TableName=TABLE, Item={**item, "body": {"S": json.dumps(body)}})
    for principal in (CLIENT, OTHER_CLIENT, ADMIN):
        assert call(serving_stack, principal, "GET", f"/v1/jobs/{job_id}")[0] == 404
    status, view = call(serving_stack, OPERATOR, "GET", f"/v1/operator/jobs/{job_id}")
    assert (status, view["owner"]) == (200, None)


def test_the_owner_gets_a_short_lived_link_to_exactly_its_output(serving_stack: Sandbox):
    created = call(serving_stack, CLIENT, "POST", "/v1/jobs", {"target": "churn-model", "content_type": "text/csv"})
    job_id, upload = created[1]["job_id"], created[1]["upload"]
    assert upload["fields"]["key"] == f"inputs/{job_id}/input"  # the upload is bound to one key
    assert upload["expires_in"] == 900
    serving_stack.upload(upload, b"1,2,3")
    serving_stack.advance(120)
    status, done = call(serving_stack, CLIENT, "GET", f"/v1/jobs/{job_id}")
    assert (status, done["status"]) == (200, "SUCCEEDED")
    stored = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}
    )["Item"]
    output_key = json.loads(stored["body"]["S"])["output_location"].split("/", 3)[3]
    link = urlsplit(done["output"]["url"])
    assert link.path.endswith(f"/{output_key}")  # the download is bound to the job's output object
    assert parse_qs(link.query)["X-Amz-Expires"] == ["300"]
    assert done["output"]["expires_in"] == 300
    assert call(serving_stack, OTHER_CLIENT, "GET", f"/v1/jobs/{job_id}")[0] == 404
