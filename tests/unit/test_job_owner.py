"""Whose job it is: the IAM principal API Gateway authenticated (rollout_core.jobs.job_owner)."""

from __future__ import annotations

from rollout_core.jobs import job_owner


def test_an_iam_user_is_its_arn():
    arn = "arn:aws:iam::123456789012:user/alice"
    assert job_owner(arn, "AIDAEXAMPLE") == arn


def test_every_session_of_a_role_is_the_role():
    first = job_owner("arn:aws:sts::123456789012:assumed-role/app/botocore-session-1700000000", "AROAX:s1")
    refreshed = job_owner("arn:aws:sts::123456789012:assumed-role/app/botocore-session-1700003600", "AROAX:s2")
    assert first == refreshed == "arn:aws:sts::123456789012:assumed-role/app"
    other_role = job_owner("arn:aws:sts::123456789012:assumed-role/other/botocore-session-1700000000", None)
    assert other_role != first


def test_an_other_partition_keeps_its_prefix():
    owner = job_owner("arn:aws-cn:sts::123456789012:assumed-role/app/s", None)
    assert owner == "arn:aws-cn:sts::123456789012:assumed-role/app"


def test_without_a_user_arn_the_caller_id_without_its_session():
    assert job_owner(None, "AROAEXAMPLE:session-1") == "AROAEXAMPLE"
    assert job_owner("", "AIDAEXAMPLE") == "AIDAEXAMPLE"
    assert job_owner(None, None) is None
