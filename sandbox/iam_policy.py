"""IAM policy evaluation, offline: does a set of statements allow one access (action, resource, context)?

Moved here from tests/security/iam.py so that the sandbox's API Gateway (sandbox/gateway.py)
can evaluate caller policies without importing from tests/; tests/security/iam.py re-exports
these names and keeps the mapping of recorded AWS calls to accesses.

IAM's own rules for the features the project's policies use ("Policy evaluation logic",
"IAM JSON policy elements: Condition operators", IAM User Guide):
- wildcards ``*`` and ``?`` in actions (case-insensitive) and resources (case-sensitive), where
  ``*`` matches any characters, ``/`` included;
- an explicit Deny wins over any Allow; no Allow is an implicit deny;
- String, Arn (part by part), Bool and Null condition operators, ``...IfExists``; several keys of one operator, and
  several operators, must all hold; several values of one key: any may match, except for the
  negated operators (``StringNotEquals``, ``ArnNotLike``, ...) where none may ("Conditions with
  multiple context keys or values": logical NOR);
- a key absent from the request: the condition is false, except for ``...IfExists`` and the
  negated operators, where it is true ("Condition operators", the note on absent keys);
- the set qualifiers ``ForAllValues:`` (true when the key is absent) and ``ForAnyValue:``, on
  the single-valued keys requests carry here.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Access:
    action: str  # e.g. "sagemaker:CreateModel"
    resource: str  # an ARN, or "*" for actions without resource types
    conditions: tuple[tuple[str, str], ...] = ()  # request context keys this call carries
    implied: bool = False  # authorisation-only: checked when another call is made

    def key(self, name: str) -> str | None:
        return next((v for k, v in self.conditions if k.lower() == name.lower()), None)


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wild(pattern: str, value: str, case: bool) -> bool:
    """IAM wildcard match: * and ? anywhere (no other globbing)."""
    escaped = pattern.replace("[", "[[]")
    return fnmatch.fnmatchcase(value, escaped) if case else fnmatch.fnmatchcase(value.lower(), escaped.lower())


def action_matches(pattern: str, action: str) -> bool:
    return _wild(pattern, action, case=False)


def resource_matches(pattern: str, resource: str) -> bool:
    if pattern == "*":
        return True
    if resource == "*":  # an action without resource types needs Resource "*"
        return False
    return _wild(pattern, resource, case=True)


def _arn_like(pattern: str, arn: str) -> bool:
    """ArnEquals / ArnLike: each of the six colon-delimited parts is matched on its own, and
    each may hold * and ? ("IAM JSON policy elements: Condition operators", ARN)."""
    wanted, got = pattern.split(":", 5), arn.split(":", 5)
    return len(wanted) == len(got) == 6 and all(_wild(w, g, case=True) for w, g in zip(wanted, got, strict=True))


# The operators that match; each has a negated twin (below) that holds when none matches.
_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda want, got: got == want,
    "StringEqualsIgnoreCase": lambda want, got: got.lower() == want.lower(),
    "StringLike": lambda want, got: _wild(want, got, case=True),
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
    "Bool": lambda want, got: got.lower() == str(want).lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def condition_holds(operator: str, key: str, wanted: Any, access: Access) -> bool:
    """One key under one operator, as "IAM JSON policy elements: Condition operators" has it:

    - several values for a key are ORed: the key matches if it matches any of them; a negated
      operator (StringNotEquals, ArnNotLike, ...) holds when it matches none of them;
    - a key absent from the request context matches nothing: the condition is false, and true
      for a negated operator;
    - ...IfExists: an absent key makes the condition true; a present one is checked as usual;
    - Null: "true" holds when the key is absent, "false" when it is present.
    Set operators ("Conditions with multiple context keys or values"): the request's keys here
    are single-valued, so ``ForAllValues:`` holds when the key is absent or its value matches,
    and ``ForAnyValue:`` only when it is present and matches. Any other qualifier is refused.
    """
    qualifier, _, operator = operator.rpartition(":")
    if qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise ValueError(f"condition qualifier {qualifier}:{operator} is not understood by this evaluator")
    got = access.key(key)
    if qualifier and got is None:
        return qualifier == "ForAllValues"
    if operator == "Null":
        return (got is None) == (str(wanted).lower() == "true")
    if_exists = operator.endswith("IfExists")
    op = operator.removesuffix("IfExists")
    negated = op in _NEGATED
    positive = _NEGATED.get(op, op)
    if positive not in _OPERATORS:
        raise ValueError(f"condition operator {operator} is not understood by this evaluator")
    if got is None:
        return if_exists or negated
    matched = any(_OPERATORS[positive](str(w), got) for w in _listify(wanted))
    return not matched if negated else matched


def conditions_hold(condition: dict[str, Any] | None, access: Access) -> bool:
    """Every operator, and every key under it, must hold (they are ANDed)."""
    return all(
        condition_holds(operator, key, wanted, access)
        for operator, tests in (condition or {}).items()
        for key, wanted in tests.items()
    )


@dataclass(frozen=True)
class Statement:
    source: str  # which policy: "RolloutPolicy", "ModelApprovalFunctionRole/DynamoDBCrudPolicy", ...
    sid: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Any
    # A resource policy's Principal element: "*", or AWS account ids / principal ARNs; None for
    # a policy attached to an identity (it has no Principal element).
    principals: tuple[str, ...] | None = None

    def applies(self, access: Access, principal: str | None = None) -> bool:
        """The statement matches the access (its effect, Allow or Deny, then decides)."""
        return (
            any(action_matches(a, access.action) for a in self.actions)
            and any(resource_matches(r, access.resource) for r in self.resources)
            and conditions_hold(self.condition, access)
            and (self.principals is None or _principal_matches(self.principals, principal))
        )

    def grants(self, access: Access) -> bool:
        return self.effect == "Allow" and self.applies(access)


def _principal_matches(principals: tuple[str, ...], principal: str | None) -> bool:
    """Principal "*" is anyone; an account id is any principal of it; else the exact ARN."""
    if "*" in principals:
        return True
    if principal is None:
        return False
    account = principal.split(":")[4] if principal.count(":") >= 5 else ""
    return any(p == principal or p in (account, f"arn:aws:iam::{account}:root") for p in principals)


def allows(statements: list[Statement], access: Access) -> bool:
    return not explicitly_denies(statements, access) and any(s.grants(access) for s in statements)


def explicitly_denies(statements: list[Statement], access: Access, principal: str | None = None) -> bool:
    return any(s.effect == "Deny" and s.applies(access, principal) for s in statements)


def explicitly_allows(statements: list[Statement], access: Access, principal: str | None = None) -> bool:
    return any(s.effect == "Allow" and s.applies(access, principal) for s in statements)


def statements_of(source: str, document: dict[str, Any]) -> list[Statement]:
    """The statements of one policy document, intrinsics already resolved."""
    out = []
    for n, st in enumerate(_listify(document["Statement"])):
        if "NotAction" in st or "NotResource" in st or "NotPrincipal" in st:
            raise ValueError(f"{source}: NotAction/NotResource are not understood by this evaluator")
        principal = st.get("Principal")
        principals = None
        if principal is not None:
            values = principal if principal == "*" else principal.get("AWS", [])
            principals = tuple(str(p) for p in _listify(values))
        out.append(
            Statement(
                source=source,
                sid=str(st.get("Sid", f"#{n}")),
                effect=st["Effect"],
                actions=tuple(str(a) for a in _listify(st["Action"])),
                resources=tuple(str(r) for r in _listify(st.get("Resource", "*"))),
                condition=st.get("Condition"),
                principals=principals,
            )
        )
    return out
