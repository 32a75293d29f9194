"""API Gateway's IAM authorization, as the sandbox emulates it for the stack's API.

A request signed by one of the test principals below (sandbox/sigv4.py checks the signature)
is authorized the way API Gateway authorizes an ``AWS_IAM`` method:
- the request is the access ``execute-api:Invoke`` on
  ``arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path as requested>``
  ("Control access for invoking an API");
- the principal's identity policies (the template's caller policies it holds, or policies of
  its own) and the API's resource policy (``InferenceApi`` Auth.ResourcePolicy, resolved for
  the stack's parameters) are evaluated with IAM's rules (sandbox/iam_policy.py) and combined
  as "How API Gateway resource policies affect authorization workflow" says: an explicit deny
  in either refuses; a principal of the API's account needs an allow in either (table A), a
  principal of another account an allow in both (table B);
- a refusal is a 403 with the message API Gateway documents ("How do I troubleshoot HTTP 403
  errors from API Gateway?"), in the body the stack's DEFAULT_4XX gateway response gives every
  4XX: ``{"message": ...}`` (template.yaml, InferenceApi GatewayResponses).

When the request is allowed, ``identity`` is what API Gateway puts in the proxy event's
``requestContext.identity`` for an IAM-authenticated caller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from . import template as tpl
from .iam_policy import Access, Statement, explicitly_allows, explicitly_denies, statements_of

REGION = "us-east-1"
ACCOUNT = "123456789012"  # the stack's account (sandbox/stack.py)
OTHER_ACCOUNT = "210987654321"
ORG_ID = "o-sandbox0001"  # the organization ACCOUNT and OTHER_ACCOUNT belong to
API_ID = "sandboxapi"  # the REST API's id, as !Ref InferenceApi gives it
STAGE = "sandbox"  # its stage (StageName: !Ref Environment)
INVOKE = "execute-api:Invoke"
EVERYTHING: dict[str, Any] = {"Effect": "Allow", "Action": INVOKE, "Resource": "*"}


@dataclass(frozen=True)
class Principal:
    """A test principal: an IAM user with an access key, and the policies attached to it."""

    name: str
    access_key: str
    secret_key: str
    user_id: str  # IAM's unique id of the user (API Gateway's identity.caller and .user)
    account: str = ACCOUNT
    caller_policies: tuple[str, ...] = ()  # logical ids of the template's caller policies it holds
    own_policies: tuple[dict[str, Any], ...] = ()  # statements of policies of its own
    org_id: str | None = ORG_ID

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:user/{self.name}"

    @property
    def environment(self) -> dict[str, str]:
        """The AWS_* variables a client signs its requests as this principal with."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}


def _principal(name: str, n: int, **kwargs: Any) -> Principal:
    key = f"AKIASANDBOX{n:09d}"
    return Principal(name, key, f"sandbox-secret-{name}", f"AIDASANDBOX{n:010d}", **kwargs)


CLIENT = _principal("inference-client", 1, caller_policies=("InferenceClientPolicy",))
OTHER_CLIENT = _principal("other-inference-client", 2, caller_policies=("InferenceClientPolicy",))
VIEWER = _principal("rollout-viewer", 3, caller_policies=("RolloutViewerPolicy",))
OPERATOR = _principal("rollout-operator", 4, caller_policies=("RolloutOperatorPolicy",))
# The broad policy that is common in practice: execute-api:Invoke on "*".
ADMIN = _principal("sandbox", 5, own_policies=(EVERYTHING,))
OUTSIDER = _principal("outsider", 6, account=OTHER_ACCOUNT, own_policies=(EVERYTHING,), org_id=None)
PARTNER = _principal("partner", 7, account=OTHER_ACCOUNT, own_policies=(EVERYTHING,))
PRINCIPALS = (CLIENT, OTHER_CLIENT, VIEWER, OPERATOR, ADMIN, OUTSIDER, PARTNER)
BY_ACCESS_KEY = {p.access_key: p for p in PRINCIPALS}


def invoke_arn(method: str, path: str, account: str = ACCOUNT) -> str:
    """The resource IAM authorizes a request on: the path as requested, parameters filled in."""
    return f"arn:aws:execute-api:{REGION}:{account}:{API_ID}/{STAGE}/{method.upper()}{path}"


def refusal(error_type: str, message: str, status: int = 403) -> dict[str, Any]:
    """A gateway response: API Gateway's status, x-amzn-ErrorType and message."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "x-amzn-ErrorType": error_type},
        "body": json.dumps({"message": message}),
        "isBase64Encoded": False,
    }


@dataclass
class Gateway:
    """The API's authorizer: the template's caller policies and resource policy for ``parameters``."""

    template: dict[str, Any]
    parameters: dict[str, str]
    account: str = ACCOUNT  # the stack's (the API's) account
    _resolved: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": self.account}
        self._resolved = {**self.parameters, **pseudo, "InferenceApi": API_ID, "Environment": STAGE}

    def policy(self, logical_id: str) -> list[Statement]:
        """The statements of one of the template's managed policies."""
        document = self.template["Resources"][logical_id]["Properties"]["PolicyDocument"]
        return statements_of(logical_id, tpl.resolve(document, self.template, self._resolved))

    def identity_policies(self, principal: Principal) -> list[Statement]:
        found = [s for name in principal.caller_policies for s in self.policy(name)]
        for n, statement in enumerate(principal.own_policies):
            found += statements_of(f"{principal.name}/own-{n}", {"Statement": [statement]})
        return found

    def resource_policy(self) -> list[Statement]:
        """The API's resource policy; ``execute-api:/...`` is API Gateway's short form for this
        API's ARNs, expanded when the policy is saved ("Access policy language overview for
        Amazon API Gateway")."""
        auth = self.template["Resources"]["InferenceApi"]["Properties"]["Auth"]
        custom = tpl.resolve(auth.get("ResourcePolicy", {}).get("CustomStatements", []), self.template, self._resolved)
        long_form = f"arn:aws:execute-api:{REGION}:{self.account}:{API_ID}/"
        statements = json.loads(json.dumps(custom).replace('"execute-api:/', f'"{long_form}'))
        return statements_of("InferenceApi resource policy", {"Statement": statements})

    def authorize(self, principal: Principal, method: str, path: str) -> dict[str, Any] | None:
        """None if API Gateway lets the request through, else its 403."""
        resource = invoke_arn(method, path, self.account)
        context = [("aws:PrincipalAccount", principal.account), ("aws:PrincipalArn", principal.arn)]
        context += [("aws:userid", principal.user_id), ("aws:username", principal.name)]
        if principal.org_id:  # present only for a principal of an organization
            context.append(("aws:PrincipalOrgID", principal.org_id))
        access = Access(INVOKE, resource, tuple(context))
        identity, resource_policy = self.identity_policies(principal), self.resource_policy()
        denied = f"User: {principal.arn} is not authorized to perform: {INVOKE} on resource: {resource}"
        if explicitly_denies(identity, access) or explicitly_denies(resource_policy, access, principal.arn):
            return refusal("AccessDeniedException", f"{denied} with an explicit deny")
        by_identity = explicitly_allows(identity, access)
        by_resource = explicitly_allows(resource_policy, access, principal.arn)
        if principal.account == self.account and (by_identity or by_resource):
            return None  # table A: an allow in either policy
        if by_identity and by_resource:
            return None  # table B: an allow in both
        missing = "identity-based" if not by_identity else "resource-based"
        return refusal("AccessDeniedException", f"{denied} because no {missing} policy allows the {INVOKE} action")


def identity(principal: Principal, source_ip: str = "127.0.0.1", user_agent: str | None = None) -> dict[str, Any]:
    """requestContext.identity of a proxy event for a caller authenticated by IAM (SigV4)."""
    return {
        "accessKey": principal.access_key,
        "accountId": principal.account,
        "caller": principal.user_id,
        "user": principal.user_id,
        "userArn": principal.arn,
        "principalOrgId": principal.org_id,
        "sourceIp": source_ip,
        "userAgent": user_agent,
        "apiKey": None,
        "apiKeyId": None,
        "cognitoIdentityPoolId": None,
        "cognitoIdentityId": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
    }
