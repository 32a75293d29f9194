"""Stored rollouts and jobs are read across releases (issue 19, item 9).

tests/fixtures/stored holds DynamoDB items exactly as the previous release (2026-11, before
schema versions) wrote them: a rollout baking at 10 %, a finished one, a job waiting for its
upload. This release must read them and carry on; and a document from a newer release must
not stop it either.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from rollout_core import documents, machine
from rollout_core.jobs import JobStatus
from rollout_core.models import AlarmState, EndpointView, Observations, Phase

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stored"


def _item(name: str) -> dict[str, Any]:
    item: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return item


def test_a_rollout_the_previous_release_left_baking_goes_on():
    body = _item("v1_rollout_baking.json")["body"]["S"]
    assert "schema_version" not in json.loads(body), "the fixture is a version-1 document"
    rollout = documents.load_rollout(body)
    assert rollout.schema_version == documents.SCHEMA_VERSION
    assert rollout.phase is Phase.BAKING and rollout.current_step_percent == 10
    assert rollout.baseline is not None
    view = EndpointView(
        status="InService",
        config_name=str(rollout.desired_config),
        weights={rollout.baseline.variant_name: 90.0, rollout.candidate.variant_name: 10.0},
        last_modified=rollout.updated_at,
    )
    alarms = dict.fromkeys(rollout.target.guard_alarms, AlarmState.OK)
    later = rollout.updated_at + timedelta(seconds=rollout.target.plan.bake_seconds + 60)
    decided, actions = machine.decide(rollout, Observations(endpoint=view, alarms=alarms), later)
    assert decided.phase is Phase.SHIFTING and decided.current_step_percent == 50
    assert [a.kind for a in actions] == ["UpdateWeights"]
    # Written back by this release, it reads the same.
    assert documents.load_rollout(decided.model_dump_json()) == decided


def test_a_finished_rollout_of_the_previous_release_reads_as_it_was():
    body = _item("v1_rollout_succeeded.json")["body"]["S"]
    rollout = documents.load_rollout(body)
    assert rollout.phase is Phase.SUCCEEDED and rollout.settled
    assert rollout.history and rollout.history[0].event == "created"


def test_a_job_the_previous_release_recorded_reads_without_an_owner():
    job = documents.load_job(_item("v1_job_pending_upload.json")["body"]["S"])
    assert job.status is JobStatus.PENDING_UPLOAD and job.owner is None
    assert job.schema_version == documents.SCHEMA_VERSION


def test_a_document_of_a_newer_release_is_read_without_the_fields_this_one_does_not_know():
    doc = json.loads(_item("v1_rollout_baking.json")["body"]["S"])
    doc["schema_version"] = documents.SCHEMA_VERSION + 1
    doc["shadow"] = {"sampling_percent": 20}  # a field of a later release
    doc["target"]["plan"]["analysis"] = {"checks": []}  # nested, too
    rollout = documents.load_rollout(json.dumps(doc))
    assert rollout.phase is Phase.BAKING
    assert rollout.schema_version == documents.SCHEMA_VERSION


def test_a_rollout_stored_before_judging_existed_does_not_start_judging_half_way():
    """Version 2 (issue 19's release) had no plan.smoke_test / plan.analysis: such a rollout keeps
    the plan it started with (issue 12's defaults are on only for rollouts started since)."""
    doc = json.loads(_item("v1_rollout_baking.json")["body"]["S"])
    doc["schema_version"] = 2
    rollout = documents.load_rollout(json.dumps(doc))
    assert not rollout.target.plan.analysis.enabled and not rollout.target.plan.smoke_test.enabled
    # Written by this release (judging on), it reads back as it was.
    judged = rollout.model_copy(
        update={
            "target": rollout.target.model_copy(
                update={
                    "plan": rollout.target.plan.model_copy(
                        update={"analysis": rollout.target.plan.analysis.model_copy(update={"enabled": True})}
                    )
                }
            )
        }
    )
    again = documents.load_rollout(judged.model_dump_json())
    assert again.target.plan.analysis.enabled and again.schema_version == documents.SCHEMA_VERSION
