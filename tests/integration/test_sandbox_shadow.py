"""The sandbox's SageMaker shadow variants (issue 13), through real boto3 clients."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rollout_core.canary_models import Verdict
from rollout_core.models import Phase, Target
from sandbox.stack import Sandbox
from tests.conftest import SAMPLE_TARGET

from .helpers import register, rollout_for

ENDPOINT = "churn-endpoint"


def _variant(name: str, model: str, weight: float) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
        "InitialVariantWeight": weight,
    }


def _models(stack: Sandbox) -> tuple[str, str]:
    sm = stack.client("sagemaker")
    role = "arn:aws:iam::123456789012:role/sm"
    for name in ("m-a", "m-b"):
        sm.create_model(ModelName=name, ExecutionRoleArn=role, PrimaryContainer={"Image": "img"})
    return "m-a", "m-b"


@pytest.mark.parametrize(
    ("production", "shadows", "message"),
    [
        ([("a", 1.0), ("c", 1.0)], [("b", 0.5)], "exactly one variant is allowed"),
        ([("a", 1.0)], [("b", 0.5), ("c", 0.5)], "exactly one variant is allowed"),
        ([("a", 1.0)], [("b", 1.5)], "sampling percentage is 1 to 100"),
        ([("a", 100.0)], [("b", 0.5)], "sampling percentage is 1 to 100"),
        ([("a", 1.0)], [("a", 0.5)], "used more than once"),
    ],
)
def test_a_config_with_a_shadow_is_refused_as_aws_documents(stack: Sandbox, production, shadows, message):
    a, b = _models(stack)
    with pytest.raises(ClientError) as caught:
        stack.client("sagemaker").create_endpoint_config(
            EndpointConfigName="with-shadow",
            ProductionVariants=[_variant(n, a, w) for n, w in production],
            ShadowProductionVariants=[_variant(n, b, w) for n, w in shadows],
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert message in caught.value.response["Error"]["Message"]


def test_a_shadow_is_described_apart_copied_requests_and_removed_by_the_next_update(stack: Sandbox):
    a, b = _models(stack)
    sm = stack.client("sagemaker")
    sm.create_endpoint_config(EndpointConfigName="alone", ProductionVariants=[_variant("a", a, 1.0)])
    sm.create_endpoint_config(
        EndpointConfigName="shadowed",
        ProductionVariants=[_variant("a", a, 100.0)],
        ShadowProductionVariants=[_variant("b", b, 25.0)],
    )
    assert (
        sm.describe_endpoint_config(EndpointConfigName="shadowed")["ShadowProductionVariants"][0]["VariantName"] == "b"
    )
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="shadowed")
    stack.advance(180)
    described = sm.describe_endpoint(EndpointName="ep")
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["a"]
    assert [v["VariantName"] for v in described["ShadowProductionVariants"]] == ["b"]
    with pytest.raises(ClientError, match="uses it"):
        sm.delete_model(ModelName=b)  # the shadow's model is in use
    stack.advance(600)
    users, copies = stack.traffic.user_requests[("ep", "a")], stack.traffic.mirrored[("ep", "b")]
    assert users > 0 and copies == pytest.approx(users / 4, rel=0.01), "a quarter of the requests copied"
    assert ("ep", "b") not in stack.traffic.user_requests
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="alone")
    stack.advance(180)
    assert "ShadowProductionVariants" not in sm.describe_endpoint(EndpointName="ep")


def test_a_rollout_with_a_shadow_phase_judges_the_shadow_on_its_own_metrics(
    stack: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # the sandbox turns EMF off; on here
    v1, v2 = register(stack, 2)
    stack.set_approval(v1, "Approved")
    stack.advance(300)
    plan = {"steps": [10, 100], "bake_seconds": 120, "shadow": {"sampling_percent": 30, "duration_seconds": 300}}
    shadowed = Target.model_validate({**SAMPLE_TARGET.model_dump(exclude={"plan"}), "plan": plan})
    stack.put_target(shadowed.model_dump_json(), "churn-model")
    stack.set_approval(v2, "Approved")
    stack.advance(240)
    rollout = rollout_for(v2)
    assert rollout.phase is Phase.SHADOWING and rollout.shadow is not None and rollout.shadow.started_at is not None
    view = json.loads(stack.api("GET", f"/v1/rollouts/{rollout.rollout_id}")["body"])  # what `rollout status` shows
    assert view["shadow"]["sampling_percent"] == 30 and view["shadow"]["variant"] == f"s-{rollout.rollout_id}"
    assert view["live"]["shadows"] == {f"s-{rollout.rollout_id}": 1}
    assert list(view["live"]["weights"].values()) == [100]
    assert view["live"]["seconds_to_next_step"] is not None
    stack.advance(420)
    rollout = rollout_for(v2)
    assert rollout.shadow is not None and rollout.shadow.outcome == "passed", rollout.reason
    report = rollout.shadow.analysis
    assert report is not None and report.verdict is Verdict.PASS
    errors = next(c for c in report.checks if c.name == "errors")
    production, copied = (int(n) for n in re.findall(r"\d+", errors.data))
    assert copied == pytest.approx(production * 0.3, rel=0.02), errors.data  # the shadow's own series
    # The dashboard's shadow widgets: EMF per check, production vs shadow, as the controller judged.
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"ShadowCandidate"' in line]
    assert {e["check"] for e in emf} == {"errors", "latency"}
    last = next(e for e in reversed(emf) if e["check"] == "errors")
    assert (last["ShadowProduction"], last["ShadowCandidate"]) == ([errors.baseline], [errors.candidate])  # a list each
    stack.advance(1800)
    assert rollout_for(v2).phase is Phase.SUCCEEDED
