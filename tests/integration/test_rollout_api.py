"""Rollout API on moto: list, show, steer and start rollouts; notifications read back from SQS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.stack import Sandbox

from .helpers import register, rollout_for

JSON = {"Content-Type": "application/json"}


def call(stack: Sandbox, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    raw = None if body is None else json.dumps(body)
    response = stack.api(method, path, raw, JSON if raw else {})
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def baking(stack: Sandbox) -> tuple[Sandbox, str, str]:
    """v1 serving, v2 baking at 10 %: (stack, v1 ARN, v2 rollout id)."""
    arns = register(stack, 2)
    stack.set_approval(arns[0], "Approved")
    stack.advance(180)
    stack.set_approval(arns[1], "Approved")
    stack.advance(360)
    stack.notifications()  # drop what was announced so far
    return stack, arns[0], rollout_for(arns[1]).rollout_id


def test_list_filters_and_paginates(baking):
    stack, _, live_id = baking
    status, page = call(stack, "GET", "/v1/rollouts?live=true")
    assert status == 200
    assert [r["rollout_id"] for r in page["rollouts"]] == [live_id]
    status, page = call(stack, "GET", "/v1/rollouts?phase=SUCCEEDED")
    assert {r["phase"] for r in page["rollouts"]} == {"SUCCEEDED"}
    seen, token = [], None
    while True:
        path = "/v1/rollouts?limit=1" + (f"&next_token={token}" if token else "")
        status, page = call(stack, "GET", path)
        assert status == 200
        seen += [r["rollout_id"] for r in page["rollouts"]]
        token = page["next_token"]
        if not token:
            break
    assert len(seen) == 2
    assert call(stack, "GET", "/v1/rollouts?phase=DANCING")[0] == 422
    assert call(stack, "GET", "/v1/rollouts?next_token=garbage")[0] == 400


def test_show_has_history_and_a_live_view(baking):
    stack, _, rollout_id = baking
    status, view = call(stack, "GET", f"/v1/rollouts/{rollout_id}")
    assert status == 200
    assert view["phase"] == "BAKING"
    assert view["step_percent"] == 10
    assert sorted(view["live"]["weights"].values()) == [10, 90]
    assert view["live"]["alarms"]["sagemaker-rollout-churn-5xx"]["state"] == "OK"
    assert 0 < view["live"]["seconds_to_next_step"] <= 300
    events = [h["event"] for h in view["history"]]
    assert events[:2] == ["created", "provisioning"]
    assert all("observations" in h for h in view["history"])
    assert call(stack, "GET", "/v1/rollouts/0123456789")[0] == 404
    assert call(stack, "GET", "/v1/rollouts/not-an-id")[0] == 422


def test_pause_resume_promote_and_the_409s(baking):
    stack, _, rollout_id = baking
    assert call(stack, "POST", f"/v1/rollouts/{rollout_id}/resume")[0] == 409
    status, body = call(stack, "POST", f"/v1/rollouts/{rollout_id}/pause")
    assert (status, body["paused"]) == (200, True)
    status, body = call(stack, "POST", f"/v1/rollouts/{rollout_id}/pause")
    assert status == 409
    assert "already paused" in body["message"]
    stack.advance(900)
    assert call(stack, "GET", f"/v1/rollouts/{rollout_id}")[1]["step_percent"] == 10, "pause holds the weights"
    assert call(stack, "POST", f"/v1/rollouts/{rollout_id}/resume")[0] == 200
    assert call(stack, "POST", f"/v1/rollouts/{rollout_id}/promote")[0] == 200
    stack.advance(900)
    status, view = call(stack, "GET", f"/v1/rollouts/{rollout_id}")
    assert view["phase"] == "SUCCEEDED"
    history = [h["event"] for h in view["history"]]
    assert "shifting to 50%" not in history, "promote skips the remaining steps"
    assert "shifting to 100%" in history
    status, body = call(stack, "POST", f"/v1/rollouts/{rollout_id}/promote")
    assert status == 409
    assert "SUCCEEDED" in body["message"]
    assert call(stack, "POST", f"/v1/rollouts/{rollout_id}/dance")[0] == 422


def test_abort_goes_back_to_the_baseline_and_is_announced(baking):
    stack, v1, rollout_id = baking
    status, body = call(stack, "POST", f"/v1/rollouts/{rollout_id}/abort")
    assert status == 200
    assert body["phase"] == "ROLLING_BACK"
    stack.advance(600)
    assert call(stack, "GET", f"/v1/rollouts/{rollout_id}")[1]["phase"] == "ABORTED"
    assert stack.endpoint_weights("churn-endpoint") == {rollout_for(v1).candidate.variant_name: 100}
    messages, events = stack.notifications()
    assert [e["detail-type"] for e in events] == ["Rollout Aborted"]
    assert events[0]["source"] == "sagemaker-rollout"
    assert events[0]["detail"]["rollout_id"] == rollout_id
    assert "aborted by" in events[0]["detail"]["text"]
    assert len(messages) == 1
    assert messages[0]["Subject"].startswith("[sagemaker-rollout] churn-endpoint")


def test_start_by_hand_rolls_back_to_an_earlier_version(baking):
    stack, v1, _ = baking
    stack.advance(3600)  # v2 is promoted
    status, started = call(stack, "POST", "/v1/rollouts", {"model_package_arn": v1})
    assert status == 201
    assert started["rollout_id"] != rollout_for(v1).rollout_id, "a manual start is a new rollout"
    stack.advance(3600)
    status, view = call(stack, "GET", f"/v1/rollouts/{started['rollout_id']}")
    assert view["phase"] == "SUCCEEDED"
    assert view["reason"] == "candidate promoted"
    assert view["history"][0]["reason"].startswith("started by")


def test_start_refuses_a_package_that_is_not_approved(stack: Sandbox):
    (pending,) = register(stack, 1)
    status, body = call(stack, "POST", "/v1/rollouts", {"model_package_arn": pending})
    assert status == 409
    assert "PendingManualApproval" in body["message"]
    assert "approve it first" in body["message"]
    missing = pending.rsplit("/", 1)[0] + "/99"
    assert call(stack, "POST", "/v1/rollouts", {"model_package_arn": missing})[0] == 404
    assert call(stack, "POST", "/v1/rollouts", {"model_package_arn": "not-an-arn"})[0] == 422


def test_every_milestone_is_announced_on_sns_and_eventbridge(stack: Sandbox):
    arns = register(stack, 2)
    stack.set_approval(arns[0], "Approved")
    stack.advance(180)
    stack.set_approval(arns[1], "Approved")
    stack.advance(3600)
    messages, events = stack.notifications()
    types = [e["detail-type"] for e in events]
    assert types == [
        "Rollout Started",
        "Rollout Succeeded",  # v1, a first deployment
        "Rollout Started",
        "Rollout Step Advanced",
        "Rollout Step Advanced",
        "Rollout Step Advanced",
        "Rollout Succeeded",
    ]
    assert len(messages) == len(events)
    attributes = messages[-1]["MessageAttributes"]
    assert attributes["milestone"]["Value"] == "succeeded"
    arn = stack.register_package("churn-model")
    stack.set_approval(arn, "Approved")
    stack.advance(600)
    stack.set_alarm("sagemaker-rollout-churn-5xx", "ALARM", reason="Threshold Crossed: 3 datapoints >= 1.0")
    stack.advance(600)
    _, events = stack.notifications()
    rolled_back = [e for e in events if e["detail-type"] == "Rollout Rolled Back"]
    assert len(rolled_back) == 1
    assert "sagemaker-rollout-churn-5xx (Threshold Crossed: 3 datapoints >= 1.0)" in rolled_back[0]["detail"]["text"]
