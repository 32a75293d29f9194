"""Who may call which route: the caller policies and the API's resource policy of template.yaml.

The table below is the decision for every route of the API: which of the three caller policies
(stack outputs InferenceClientPolicyArn, RolloutViewerPolicyArn, RolloutOperatorPolicyArn)
allows it. Every route template.yaml declares, and every route of the served OpenAPI document,
must have its row, so a new route cannot ship without a decision. The policies are evaluated
as API Gateway evaluates them (sandbox/gateway.py: IAM's rules, the request path as requested).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sandbox import template as tpl
from sandbox.gateway import (
    ADMIN,
    CLIENT,
    OPERATOR,
    ORG_ID,
    OUTSIDER,
    PARTNER,
    VIEWER,
    Gateway,
    Principal,
    invoke_arn,
)

from .conftest import TEMPLATE, TRANSLATE, tools_bin

RAW = tpl.load_template()  # read once: nothing here changes it
DEFAULTS = tpl.parameter_defaults(RAW)

CLIENT_POLICY, VIEWER_POLICY, OPERATOR_POLICY = "InferenceClientPolicy", "RolloutViewerPolicy", "RolloutOperatorPolicy"
POLICIES = (CLIENT_POLICY, VIEWER_POLICY, OPERATOR_POLICY)
ROLLOUT, JOB = "3da3d9721e", "e1afb1a33dd947d09533c8c7c0b62e65"

# (route as template.yaml declares it, a request to it, the caller policies that allow that request)
TABLE: list[tuple[str, str, set[str]]] = [
    ("POST /v1/endpoints/{endpoint}/invocations", "/v1/endpoints/churn-endpoint/invocations", {CLIENT_POLICY}),
    ("POST /v1/jobs", "/v1/jobs", {CLIENT_POLICY}),
    ("GET /v1/jobs/{job_id}", f"/v1/jobs/{JOB}", {CLIENT_POLICY}),
    ("GET /v1/operator/jobs/{job_id}", f"/v1/operator/jobs/{JOB}", {OPERATOR_POLICY}),
    ("GET /v1/openapi.json", "/v1/openapi.json", {CLIENT_POLICY, VIEWER_POLICY, OPERATOR_POLICY}),
    ("GET /v1/rollouts", "/v1/rollouts", {VIEWER_POLICY, OPERATOR_POLICY}),
    ("GET /v1/rollouts/{rollout_id}", f"/v1/rollouts/{ROLLOUT}", {VIEWER_POLICY, OPERATOR_POLICY}),
    ("POST /v1/rollouts", "/v1/rollouts", {OPERATOR_POLICY}),
    ("GET /v1/endpoints/{endpoint}/doctor", "/v1/endpoints/churn-endpoint/doctor", {VIEWER_POLICY, OPERATOR_POLICY}),
    ("POST /v1/rollouts/{rollout_id}/{action}", f"/v1/rollouts/{ROLLOUT}/pause", {OPERATOR_POLICY}),
    ("POST /v1/rollouts/{rollout_id}/{action}", f"/v1/rollouts/{ROLLOUT}/resume", {OPERATOR_POLICY}),
    ("POST /v1/rollouts/{rollout_id}/{action}", f"/v1/rollouts/{ROLLOUT}/promote", {OPERATOR_POLICY}),
    ("POST /v1/rollouts/{rollout_id}/{action}", f"/v1/rollouts/{ROLLOUT}/abort", {OPERATOR_POLICY}),
    ("POST /v1/rollouts/{rollout_id}/{action}", f"/v1/rollouts/{ROLLOUT}/approve", {OPERATOR_POLICY}),
    ("GET /v1/versions", "/v1/versions", {VIEWER_POLICY, OPERATOR_POLICY}),
    # Not a command (the function would answer 422): no policy lets it through.
    ("POST /v1/rollouts/{rollout_id}/{action}", f"/v1/rollouts/{ROLLOUT}/delete", set()),
]


def holding(policy: str) -> Principal:
    return Principal(f"holds-{policy}", "AKIATABLE", "secret", "AIDATABLE", caller_policies=(policy,))


def template_routes() -> set[str]:
    return {f"{r.method} {r.path}" for r in tpl.api_routes(RAW)}


def test_every_route_of_the_template_has_a_decision_and_no_other():
    assert {route for route, _, _ in TABLE} == template_routes()


def test_every_route_of_the_openapi_document_is_a_route_of_the_template():
    snapshot = json.loads((Path(__file__).parents[1] / "integration" / "openapi.snapshot.json").read_text())
    documented = {f"{method.upper()} {path}" for path, item in snapshot["paths"].items() for method in item}
    assert documented <= template_routes()


def test_each_request_of_the_table_is_a_request_of_its_route():
    by_name = {f"{r.method} {r.path}": r for r in tpl.api_routes(RAW)}
    for route, path, _ in TABLE:
        assert by_name[route].matches(route.split(maxsplit=1)[0], path), (route, path)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize(("route", "path", "allowed"), TABLE, ids=[f"{r} {p}" for r, p, _ in TABLE])
def test_route_by_policy(route: str, path: str, allowed: set[str], policy: str):
    method = route.split(maxsplit=1)[0]
    gateway = Gateway(RAW, DEFAULTS)
    refused = gateway.authorize(holding(policy), method, path)
    if policy in allowed:
        assert refused is None, f"{policy} must allow {method} {path}: {refused}"
    else:
        assert refused is not None and refused["statusCode"] == 403, f"{policy} must not allow {route} ({path})"
        assert "no identity-based policy allows the execute-api:Invoke action" in json.loads(refused["body"])["message"]


def test_a_wildcard_on_reads_never_reaches_a_command():
    """IAM's "*" matches "/" too: a GET wildcard must not cover a POST of the same path."""
    viewer = Gateway(RAW, DEFAULTS).policy(VIEWER_POLICY)
    resources = [r for s in viewer for r in s.resources]
    assert resources and all(r.startswith(invoke_arn("GET", "/")) for r in resources), resources


def test_the_stack_outputs_the_three_policies():
    outputs = RAW["Outputs"]
    for policy in POLICIES:
        assert outputs[f"{policy}Arn"]["Value"] == {"Ref": policy}
        assert RAW["Resources"][policy]["Type"] == "AWS::IAM::ManagedPolicy"


# --- the resource policy: who may call at all ---------------------------------------------------

MODES: dict[str, dict[str, str]] = {
    "this account (default)": {},
    "named principals": {"ApiAllowedPrincipals": f"{OPERATOR.arn},{PARTNER.arn}"},
    "organization": {"ApiAllowedOrgId": ORG_ID},
    "named principals or organization": {"ApiAllowedPrincipals": OPERATOR.arn, "ApiAllowedOrgId": ORG_ID},
}
# Who may GET /v1/rollouts (ADMIN and the partners hold execute-api:Invoke on "*"; the operator
# its caller policy; OUTSIDER's account is in no organization).
CALLERS = {"admin (this account)": ADMIN, "operator": OPERATOR, "outsider": OUTSIDER, "partner": PARTNER}
ALLOWED = {
    "this account (default)": {"admin (this account)", "operator"},
    "named principals": {"operator", "partner"},
    "organization": {"admin (this account)", "operator", "partner"},
    "named principals or organization": {"admin (this account)", "operator", "partner"},
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("caller", CALLERS)
def test_the_resource_policy_lets_in_only_the_allowed_callers(mode: str, caller: str):
    gateway = Gateway(RAW, {**DEFAULTS, **MODES[mode]})
    refused = gateway.authorize(CALLERS[caller], "GET", "/v1/rollouts")
    if caller in ALLOWED[mode]:
        assert refused is None, refused
    else:
        assert refused is not None
        assert json.loads(refused["body"])["message"].endswith("with an explicit deny")


@pytest.mark.parametrize("org", ["", ORG_ID])
def test_naming_a_caller_of_this_account_grants_it_nothing_beyond_its_own_policy(org: str):
    """API Gateway allows a caller of the API's account when either policy allows (table A): a
    resource policy that allowed the named callers of this account would let a viewer abort."""
    named = {"ApiAllowedPrincipals": f"{VIEWER.arn},{CLIENT.arn}", "ApiAllowedOrgId": org}
    gateway = Gateway(RAW, {**DEFAULTS, **named})
    assert gateway.authorize(VIEWER, "GET", "/v1/rollouts") is None
    for caller, path in ((VIEWER, f"/v1/rollouts/{ROLLOUT}/abort"), (CLIENT, f"/v1/rollouts/{ROLLOUT}/abort")):
        refused = gateway.authorize(caller, "POST", path)
        assert refused is not None
        assert "no identity-based policy allows" in json.loads(refused["body"])["message"]


def test_a_caller_of_another_account_needs_its_own_policy_too():
    """Table B: a cross-account caller needs an allow in both policies."""
    gateway = Gateway(RAW, {**DEFAULTS, **MODES["named principals"]})
    empty_handed = Principal("partner", PARTNER.access_key, "x", PARTNER.user_id, account=PARTNER.account)
    refused = gateway.authorize(empty_handed, "GET", "/v1/rollouts")
    assert refused is not None
    assert "no identity-based policy allows" in json.loads(refused["body"])["message"]


def _deployment_id(tmp_path: Path, **parameters: str) -> str:
    out = tmp_path / f"translated-{len(list(tmp_path.iterdir()))}.json"
    args = [f"--param={k}={v}" for k, v in parameters.items()]
    proc = subprocess.run(
        [str(tools_bin() / "python"), str(TRANSLATE), str(TEMPLATE), "-o", str(out), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    resources: dict[str, Any] = json.loads(out.read_text())["Resources"]
    (found,) = [k for k, r in resources.items() if r["Type"] == "AWS::ApiGateway::Deployment"]
    return found


def test_a_new_resource_policy_deploys_the_stage_again(tmp_path: Path):
    """API Gateway applies a changed resource policy only with a new deployment of the stage:
    SAM must name the deployment after the policy as the parameters make it."""
    default = _deployment_id(tmp_path)
    assert _deployment_id(tmp_path) == default  # the same values: no needless redeployment
    assert _deployment_id(tmp_path, ApiAllowedPrincipals=OPERATOR.arn) != default
    assert _deployment_id(tmp_path, ApiAllowedOrgId=ORG_ID) != default


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),
        ("arn:aws:iam::123456789012:role/app", True),
        ("arn:aws:iam::123456789012:role/ops/app,arn:aws:iam::210987654321:user/partner", True),
        ("arn:aws:iam::123456789012:role/a, arn:aws:iam::123456789012:role/b", False),  # no spaces
        ("123456789012", False),  # an account is not a principal: use ApiAllowedOrgId or name its roles
        ("arn:aws:sts::123456789012:assumed-role/app/session", False),  # IAM sees the role, not a session
    ],
)
def test_allowed_principals_are_role_or_user_arns(value: str, accepted: bool):
    pattern = RAW["Parameters"]["ApiAllowedPrincipals"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is accepted
