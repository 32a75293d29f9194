"""Signature Version 4 checked as API Gateway checks it on an ``AWS_IAM`` method (python -m sandbox serve).

The signature is computed again with botocore's own signer (``SigV4Auth``) over the request as
received: its method, path and query, the headers the ``SignedHeaders`` list names, the body,
and the time in ``X-Amz-Date``, with the secret key of the access key in ``Credential``
(sandbox/gateway.py's test principals). Refusals are API Gateway's 403s, with the messages
AWS documents:
- no ``Authorization: AWS4-HMAC-SHA256 ...`` header: "Missing Authentication Token";
- an access key nobody has: "The security token included in the request is invalid." ("How do
  I troubleshoot HTTP 403 errors from API Gateway?");
- a signature that does not match (wrong secret, a changed body, path, query or signed header):
  "The request signature we calculated does not match the signature you provided. ...", with
  the canonical request and string to sign API Gateway calculated ("Troubleshoot signed requests
  for AWS APIs", IAM User Guide);
- ``X-Amz-Date`` more than 5 minutes from now, a credential scope of another date, region or
  service: the messages of that same page.
The sandbox's principals hold long-term keys: a request that carries a session token is
refused as an unknown token (stricter: there are no sessions to check it against).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .gateway import BY_ACCESS_KEY, REGION, Principal, refusal

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=5)
STAMP = "%Y%m%dT%H%M%SZ"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)

GetAll = Callable[[str], list[str]]  # every value a header was sent with (none: [])


def _invalid(message: str) -> dict[str, Any]:
    return refusal("InvalidSignatureException", message)


def _parse(authorization: str) -> dict[str, str]:
    """``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`` -> its parameters."""
    found = {}
    for part in authorization[len(ALGORITHM) :].split(","):
        name, _, value = part.strip().partition("=")
        if name:
            found[name] = value
    return found


def _time_and_scope(stamp: str, scope: str, now: datetime) -> dict[str, Any] | None:
    """X-Amz-Date within 5 minutes of now; the credential scope of that date, this region, execute-api."""
    try:
        signed_at = datetime.strptime(stamp, STAMP).replace(tzinfo=UTC)
    except ValueError:
        return _invalid(f"Invalid X-Amz-Date: {stamp}")
    clock = now.strftime(STAMP)
    if signed_at < now - MAX_SKEW:
        earliest = (now - MAX_SKEW).strftime(STAMP)
        return _invalid(f"Signature expired: {stamp} is now earlier than {earliest} ({clock} - 5 min.)")
    if signed_at > now + MAX_SKEW:
        latest = (now + MAX_SKEW).strftime(STAMP)
        return _invalid(f"Signature not yet current: {stamp} is still later than {latest} ({clock} + 5 min.)")
    scope_date, region, service, terminator = [*scope.split("/"), "", "", "", ""][:4]
    if scope_date != stamp[:8]:
        return _invalid(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope_date}' != '{stamp[:8]}', from '{stamp}'."
        )
    if region != REGION:
        return _invalid(f"Credential should be scoped to a valid region, not '{region}'. ")
    if service != SERVICE:
        return _invalid(f"Credential should be scoped to correct service: '{SERVICE}'. ")
    if terminator != "aws4_request":
        return _invalid(f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. ")
    return None


def verify(method: str, url: str, get_all: GetAll, body: bytes, now: datetime) -> Principal | dict[str, Any]:
    """The principal whose key signed the request, or API Gateway's 403 gateway response."""
    authorization = (get_all("Authorization") or [""])[0]
    if not authorization.startswith(f"{ALGORITHM} "):
        return refusal("MissingAuthenticationTokenException", "Missing Authentication Token")
    parts = _parse(authorization)
    stamp = (get_all("X-Amz-Date") or [""])[0]
    required = ("Credential", "Signature", "SignedHeaders")
    missing = [f"Authorization header requires '{p}' parameter." for p in required if p not in parts]
    if not stamp:
        missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    if missing:
        return refusal("IncompleteSignatureException", " ".join(missing) + f" Authorization={authorization}")
    access_key, _, scope = parts["Credential"].partition("/")
    principal = BY_ACCESS_KEY.get(access_key)
    if principal is None or get_all("X-Amz-Security-Token"):
        return refusal("AccessDeniedException", "The security token included in the request is invalid.")
    refused = _time_and_scope(stamp, scope, now)
    if refused is not None:
        return refused
    signed_headers = parts["SignedHeaders"].lower().split(";")
    if "host" not in signed_headers:
        return _invalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    request = AWSRequest(method=method, url=url, data=body)
    for name in signed_headers:
        for value in get_all(name):
            request.headers.add_header(name, value)
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(principal.access_key, principal.secret_key), SERVICE, REGION)
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    expected = signer.signature(string_to_sign, request)
    if not hmac.compare_digest(expected, parts["Signature"]):
        return _invalid(
            f"{MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
            f"The String-to-Sign should have been\n'{string_to_sign}'\n"
        )
    return principal
