"""The offline IAM evaluator (tests/security/iam.py) against policies worked out by hand.

Each case follows "IAM JSON policy elements: Condition operators" (an absent key makes a
condition false, a negated one true; ...IfExists; Null; several values are ORed, a negated
operator holds when none matches; ARN operators match each colon-delimited part on its own),
and the coverage test's (action, resource) pair check.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.calls import Call

from . import sar
from .iam import _SAGEMAKER_RESOURCE, Access, Statement, accesses, allows, condition_holds, conditions_hold
from .test_iam_coverage import unused_grants

BUCKET = "arn:aws:s3:::jobs"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:work"


def access(**keys: str) -> Access:
    return Access("sqs:SendMessage", QUEUE, tuple(keys.items()))


def statement(effect: str, condition: Any = None, actions: tuple[str, ...] = ("sqs:SendMessage",)) -> Statement:
    return Statement("hand", "s", effect, actions, (QUEUE,), condition)


@pytest.mark.parametrize(
    ("operator", "wanted", "keys", "holds"),
    [
        # A key the request does not carry: false, and true for a negated operator.
        ("StringEquals", "vpc-1", {}, False),
        ("StringNotEquals", "vpc-1", {}, True),
        ("StringLike", "vpc-*", {}, False),
        ("StringNotLike", "vpc-*", {}, True),
        ("ArnLike", "arn:aws:sns:*:*:t", {}, False),
        ("ArnNotLike", "arn:aws:sns:*:*:t", {}, True),
        ("ArnNotEquals", "arn:aws:sns:us-east-1:1:t", {}, True),
        ("Bool", "true", {}, False),
        # ...IfExists: an absent key is true; a present one is checked.
        ("StringEqualsIfExists", "vpc-1", {}, True),
        ("StringEqualsIfExists", "vpc-1", {"aws:SourceVpc": "vpc-2"}, False),
        ("StringNotEqualsIfExists", "vpc-1", {"aws:SourceVpc": "vpc-1"}, False),
        # Several values are ORed; a negated operator holds when none matches.
        ("StringEquals", ["vpc-1", "vpc-2"], {"aws:SourceVpc": "vpc-2"}, True),
        ("StringNotEquals", ["vpc-1", "vpc-2"], {"aws:SourceVpc": "vpc-2"}, False),
        ("StringNotEquals", ["vpc-1", "vpc-2"], {"aws:SourceVpc": "vpc-3"}, True),
        ("StringNotLike", ["vpc-1*", "vpc-2*"], {"aws:SourceVpc": "vpc-10"}, False),
        # Case: StringEquals is case-sensitive, its IgnoreCase twin is not.
        ("StringEquals", "VPC-1", {"aws:SourceVpc": "vpc-1"}, False),
        ("StringEqualsIgnoreCase", "VPC-1", {"aws:SourceVpc": "vpc-1"}, True),
        ("StringNotEqualsIgnoreCase", "VPC-1", {"aws:SourceVpc": "vpc-1"}, False),
        # Null: "true" holds for an absent key, "false" for a present one.
        ("Null", "true", {}, True),
        ("Null", "false", {}, False),
        ("Null", "false", {"aws:SourceVpc": "vpc-1"}, True),
    ],
)
def test_condition_operators(operator: str, wanted: Any, keys: dict[str, str], holds: bool):
    assert condition_holds(operator, "aws:SourceVpc", wanted, access(**keys)) is holds


@pytest.mark.parametrize(
    ("pattern", "arn", "holds"),
    [
        ("arn:aws:sns:us-east-1:123456789012:topic", "arn:aws:sns:us-east-1:123456789012:topic", True),
        ("arn:aws:sns:*:123456789012:top?c", "arn:aws:sns:eu-west-1:123456789012:topic", True),
        ("arn:aws:sns:*:123456789012:*", "arn:aws:sns:eu-west-1:999999999999:topic", False),
        # "*" stays within its part: it cannot stand for the region and the account together.
        ("arn:aws:sns:*:topic", "arn:aws:sns:us-east-1:123456789012:topic", False),
    ],
)
def test_arn_operators_match_each_part_on_its_own(pattern: str, arn: str, holds: bool):
    for operator in ("ArnLike", "ArnEquals"):
        assert condition_holds(operator, "aws:SourceArn", pattern, access(**{"aws:SourceArn": arn})) is holds
    assert condition_holds("ArnNotLike", "aws:SourceArn", pattern, access(**{"aws:SourceArn": arn})) is not holds


def test_operators_and_keys_are_anded():
    condition = {
        "StringEquals": {"aws:SourceVpc": "vpc-1", "aws:SourceAccount": "1"},
        "Null": {"aws:TokenIssueTime": "true"},
    }
    assert conditions_hold(condition, access(**{"aws:SourceVpc": "vpc-1", "aws:SourceAccount": "1"}))
    assert not conditions_hold(condition, access(**{"aws:SourceVpc": "vpc-1"}))


def test_a_deny_with_a_negated_condition_applies_when_the_key_is_absent():
    """The common guard "Deny unless from my VPC": a request without the key is denied."""
    guard = statement("Deny", {"StringNotEquals": {"aws:SourceVpc": "vpc-1"}})
    grant = statement("Allow")
    assert not allows([grant, guard], access())
    assert not allows([grant, guard], access(**{"aws:SourceVpc": "vpc-2"}))
    assert allows([grant, guard], access(**{"aws:SourceVpc": "vpc-1"}))
    # ...IfExists: an absent key makes the condition true, so this Deny applies as well.
    with_if_exists = statement("Deny", {"StringNotEqualsIfExists": {"aws:SourceVpc": "vpc-1"}})
    assert not allows([grant, with_if_exists], access())
    assert allows([grant, with_if_exists], access(**{"aws:SourceVpc": "vpc-1"}))
    # A positive Allow condition on an absent key allows nothing.
    assert not allows([statement("Allow", {"StringEquals": {"aws:SourceVpc": "vpc-1"}})], access())


def test_an_unknown_operator_is_refused_not_guessed():
    # The set qualifiers ForAllValues:/ForAnyValue: are understood (the event-bus policies use
    # them: tests/unit/test_iam_policy.py); anything else is refused rather than guessed.
    with pytest.raises(ValueError, match="ForEachValue:StringLike"):
        condition_holds("ForEachValue:StringLike", "aws:TagKeys", "a*", access())
    with pytest.raises(ValueError, match="NumericLessThan"):
        condition_holds("NumericLessThan", "aws:MultiFactorAuthAge", "3600", access())


# --- the coverage test's (action, resource) pairs -------------------------------------------------


def test_every_granted_pair_must_be_used_not_each_action_and_each_resource():
    """Reading inputs and writing outputs uses both actions and both resources, but the
    statement also lets the role write inputs and read outputs: two pairs nothing uses."""
    st = Statement(
        "hand", "s", "Allow", ("s3:GetObject", "s3:PutObject"), (f"{BUCKET}/inputs/*", f"{BUCKET}/outputs/*"), None
    )
    used = [Access("s3:GetObject", f"{BUCKET}/inputs/a"), Access("s3:PutObject", f"{BUCKET}/outputs/a.out")]
    assert sorted(unused_grants(st, used, {})) == [
        f"s3:GetObject on {BUCKET}/outputs/*",
        f"s3:PutObject on {BUCKET}/inputs/*",
    ]
    both = [*used, Access("s3:GetObject", f"{BUCKET}/outputs/b"), Access("s3:PutObject", f"{BUCKET}/inputs/b")]
    assert unused_grants(st, both, {}) == []


def test_a_pair_that_grants_nothing_is_not_an_unused_grant():
    """sagemaker:CreateModel on an endpoint ARN allows nothing (CreateModel acts on models)."""
    endpoint = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn*"
    model = "arn:aws:sagemaker:us-east-1:123456789012:model/churn*"
    st = Statement("hand", "s", "Allow", ("sagemaker:CreateModel", "sagemaker:DeleteEndpoint"), (endpoint, model), None)
    used = [
        Access("sagemaker:CreateModel", "arn:aws:sagemaker:us-east-1:123456789012:model/churn-m-1"),
        Access("sagemaker:DeleteEndpoint", "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn"),
    ]
    assert unused_grants(st, used, {}) == []
    assert unused_grants(st, used[:1], {}) == [f"sagemaker:DeleteEndpoint on {endpoint}"]


def test_an_allowed_unused_action_is_allowed_on_its_one_resource_only():
    role = "arn:aws:iam::123456789012:role/aws-service-role/x/Y"
    st = Statement(
        "hand", "s", "Allow", ("iam:CreateServiceLinkedRole",), (role, "arn:aws:iam::123456789012:role/*"), None
    )
    assert unused_grants(st, [], {"iam:CreateServiceLinkedRole": role}) == [
        "iam:CreateServiceLinkedRole on arn:aws:iam::123456789012:role/*"
    ]


def test_wildcard_actions_are_always_reported():
    st = Statement("hand", "s", "Allow", ("sqs:*",), (QUEUE,), None)
    assert unused_grants(st, [Access("sqs:SendMessage", QUEUE)], {}) == ["wildcard action sqs:*"]


# --- the call -> access mapping against the Service Authorization Reference -------------------------


@pytest.mark.parametrize("operation", sorted(_SAGEMAKER_RESOURCE))
def test_each_sagemaker_call_is_checked_on_every_resource_type_iam_requires(operation: str):
    """CreateEndpoint and UpdateEndpoint are authorised on the endpoint *and* its config."""
    params = {
        "EndpointName": "churn",
        "EndpointConfigName": "churn-c-1",
        "ModelName": "churn-m-1",
        "TransformJobName": "sr-1",
        "ModelPackageName": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/1",
        "ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/1",
    }
    call = Call(function="f", service="sagemaker", iam_prefix="sagemaker", operation=operation, params=params)
    found = [a for a in accesses(call) if not a.implied]
    kinds = {sar.resource_type("sagemaker", a.resource) for a in found}
    assert kinds >= sar.required_types(f"sagemaker:{operation}"), (operation, kinds)
