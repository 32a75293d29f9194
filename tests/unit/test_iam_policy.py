"""The IAM evaluator the sandbox's API Gateway and the IAM coverage tests use, on hand-worked policies.

Each case is IAM's documented rule ("Conditions with multiple context keys or values",
"Condition operators" in the IAM User Guide), worked out by hand.
"""

from __future__ import annotations

import pytest

from sandbox.iam_policy import Access, Statement, allows, conditions_hold, explicitly_allows, statements_of

ARN = "arn:aws:iam::111122223333:user/alice"
BOB = "arn:aws:iam::111122223333:user/bob"


def access(**keys: str) -> Access:
    return Access("execute-api:Invoke", "arn:aws:execute-api:us-east-1:111122223333:api/dev/GET/x", tuple(keys.items()))


@pytest.mark.parametrize(
    ("condition", "keys", "holds"),
    [
        # several values of one key: any may match ...
        ({"ArnLike": {"aws:PrincipalArn": [ARN, BOB]}}, {"aws:PrincipalArn": BOB}, True),
        ({"ArnLike": {"aws:PrincipalArn": [ARN, BOB]}}, {"aws:PrincipalArn": "arn:aws:iam::1:user/eve"}, False),
        # ... but for a negated operator none may (NOR), whichever value matches
        ({"ArnNotLike": {"aws:PrincipalArn": [ARN, BOB]}}, {"aws:PrincipalArn": ARN}, False),
        ({"ArnNotLike": {"aws:PrincipalArn": [ARN, BOB]}}, {"aws:PrincipalArn": BOB}, False),
        ({"ArnNotLike": {"aws:PrincipalArn": [ARN, BOB]}}, {"aws:PrincipalArn": "arn:aws:iam::1:user/eve"}, True),
        ({"StringNotEquals": {"aws:PrincipalAccount": ["1", "2"]}}, {"aws:PrincipalAccount": "2"}, False),
        ({"StringNotEquals": {"aws:PrincipalAccount": ["1", "2"]}}, {"aws:PrincipalAccount": "3"}, True),
        # an absent key: false, except for a negated operator and ...IfExists
        ({"StringEquals": {"aws:PrincipalOrgID": "o-1"}}, {}, False),
        ({"StringNotEquals": {"aws:PrincipalOrgID": "o-1"}}, {}, True),
        ({"ArnNotLike": {"aws:PrincipalArn": ARN}}, {}, True),
        ({"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-1"}}, {}, True),
        # set qualifiers on single-valued request keys (the bus policies' events:source):
        # ForAllValues holds when the key is absent or matches, ForAnyValue only when it matches
        ({"ForAllValues:StringEquals": {"events:source": ["aws.sagemaker"]}}, {"events:source": "aws.sagemaker"}, True),
        ({"ForAllValues:StringEquals": {"events:source": ["aws.sagemaker"]}}, {"events:source": "evil"}, False),
        ({"ForAllValues:StringEquals": {"events:source": ["aws.sagemaker"]}}, {}, True),
        ({"ForAnyValue:StringEquals": {"events:source": ["aws.sagemaker"]}}, {}, False),
        ({"ForAnyValue:StringEquals": {"events:source": ["aws.sagemaker"]}}, {"events:source": "aws.sagemaker"}, True),
        # several operators, several keys: all must hold
        (
            {"StringEquals": {"aws:PrincipalOrgID": "o-1"}, "StringNotEquals": {"aws:PrincipalAccount": "1"}},
            {"aws:PrincipalOrgID": "o-1", "aws:PrincipalAccount": "1"},
            False,
        ),
        (
            {"StringEquals": {"aws:PrincipalOrgID": "o-1"}, "StringNotEquals": {"aws:PrincipalAccount": "1"}},
            {"aws:PrincipalOrgID": "o-1", "aws:PrincipalAccount": "2"},
            True,
        ),
    ],
)
def test_condition_operators(condition, keys, holds):
    assert conditions_hold(condition, access(**keys)) is holds


def test_an_explicit_deny_wins_and_no_allow_is_a_deny():
    allow = Statement("p", "a", "Allow", ("execute-api:Invoke",), ("*",), None)
    deny = Statement("p", "d", "Deny", ("execute-api:*",), ("arn:aws:execute-api:*:*:api/*/GET/*",), None)
    assert allows([allow], access())
    assert not allows([allow, deny], access())
    assert not allows([], access())


def test_a_wildcard_in_a_resource_matches_slashes():
    """IAM's "*" is any characters, "/" included: GET/x* covers GET/x/y/z."""
    statement = Statement("p", "a", "Allow", ("execute-api:Invoke",), ("arn:aws:execute-api:*:*:api/dev/GET/*",), None)
    deep = Access("execute-api:Invoke", "arn:aws:execute-api:us-east-1:1:api/dev/GET/a/b/c")
    assert statement.grants(deep)
    assert not statement.grants(Access("execute-api:Invoke", "arn:aws:execute-api:us-east-1:1:api/dev/POST/a"))


def test_the_principal_element_of_a_resource_policy():
    document = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": [BOB, "444455556666"]}, "Action": "execute-api:Invoke"},
        ]
    }
    statements = statements_of("resource policy", document)
    assert explicitly_allows(statements, access(), BOB)
    assert explicitly_allows(statements, access(), "arn:aws:iam::444455556666:role/any")
    assert not explicitly_allows(statements, access(), ARN)
    anyone = statements_of("r", {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*"}]})
    assert explicitly_allows(anyone, access(), ARN)
