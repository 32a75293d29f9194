"""Deployed as samconfig.toml shows, one approval reaches the first environment alone; each later
environment hears of a version only from the one before it (the real rule patterns of
template.yaml, resolved per environment and matched by moto's EventBridge pattern matcher)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox import template as tpl

from .test_template_config import environment_parameters

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("dev", "staging", "prod")
ACCOUNT = "123456789012"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/3"


def routes(env: str) -> list[tpl.Route]:
    parameters = environment_parameters(env)
    pseudo = {"AWS::StackName": f"sagemaker-rollout-{env}", "AWS::Region": "us-east-1", "AWS::AccountId": ACCOUNT}
    return tpl.routes(tpl.load_template(), {**parameters, **pseudo})


ROUTES = {env: routes(env) for env in ENVIRONMENTS}


def functions_reached(event: dict[str, Any]) -> dict[str, set[str]]:
    """Per environment, the functions whose rules match ``event`` (schedules and topics never do)."""
    return {env: {r.function for r in found if r.matches(event)} for env, found in ROUTES.items()}


def registry_event(status: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / "model_package_approved.json").read_text())
    event["detail"]["ModelApprovalStatus"] = status
    return event


def milestone(detail_type: str, environment: str) -> dict[str, Any]:
    """A milestone as aws/notify.py puts it: history.notify's detail plus the stack's origin."""
    detail = {
        "rollout_id": "3da3d9721e",
        "endpoint": f"churn-endpoint-{environment}",
        "model_package_arn": PACKAGE,
        "model_package_group": "churn-model",
        "trigger": "approval",
        "guard_alarms": [f"sagemaker-rollout-churn-{environment}-5xx"],
        "environment": environment,
        "account": ACCOUNT,
        "region": "us-east-1",
    }
    return {
        "version": "0",
        "id": "1",
        "detail-type": detail_type,
        "source": "sagemaker-rollout",
        "account": ACCOUNT,
        "time": "2026-11-20T10:00:00Z",
        "region": "us-east-1",
        "resources": [PACKAGE],
        "detail": detail,
    }


def test_samconfig_chains_dev_staging_prod():
    sources = {env: environment_parameters(env)["RolloutSource"] for env in ENVIRONMENTS}
    assert sources == {"dev": "registry", "staging": "after:dev", "prod": "after:staging"}
    assert int(environment_parameters("staging")["SoakSeconds"]) > 0
    assert environment_parameters("prod")["PromotionGate"] == "manual"


def test_an_approval_reaches_the_first_environment_alone():
    reached = functions_reached(registry_event("Approved"))
    assert reached == {"dev": {"ModelApprovalFunction"}, "staging": set(), "prod": set()}


def test_a_rejection_reaches_every_environment():
    reached = functions_reached(registry_event("Rejected"))
    assert reached == {env: {"ModelApprovalFunction"} for env in ENVIRONMENTS}


@pytest.mark.parametrize(("upstream", "downstream"), [("dev", "staging"), ("staging", "prod")])
@pytest.mark.parametrize("detail_type", ["Rollout Started", "Rollout Succeeded"])
def test_a_milestone_reaches_the_next_environment_alone(upstream: str, downstream: str, detail_type: str):
    reached = functions_reached(milestone(detail_type, upstream))
    assert reached == {env: ({"PromotionFunction"} if env == downstream else set()) for env in ENVIRONMENTS}


def test_the_last_environment_is_followed_by_no_one():
    assert functions_reached(milestone("Rollout Succeeded", "prod")) == {env: set() for env in ENVIRONMENTS}


def test_other_milestones_and_other_accounts_are_not_followed():
    assert functions_reached(milestone("Rollout Waiting", "dev"))["staging"] == set()
    foreign = milestone("Rollout Succeeded", "dev") | {"account": "999999999999"}
    assert functions_reached(foreign)["staging"] == set()
    foreign_approval = registry_event("Approved") | {"account": "999999999999"}
    assert functions_reached(foreign_approval)["dev"] == set()
