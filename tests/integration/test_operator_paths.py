"""Every operator command in every phase, every job route in every job state, through the real APIs.

Beyond checking each answer against the state machine's rules, these tests make the AWS calls
of every path, so that the IAM coverage test (tests/security/test_iam_coverage.py) checks the
permissions each one needs: a path no test drives is a permission no test checks (the rollout
API once lacked dynamodb:DeleteItem, needed only to abort a PENDING rollout). Each driven path
is registered with the recorder (``RECORDER.paths``), and the coverage test requires them all.

One sandbox walks a rollout through every phase. At each, every command runs in a forked copy
of the whole process (moto's state included, as the crash matrix does), so that one command
does not change what the next one sees; the fork's calls reach the recorder when it exits.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

from rollout_core.commands import STEERABLE
from rollout_core.models import Phase, Rollout
from sandbox.calls import hooks
from sandbox.stack import Sandbox
from tests.conftest import ASYNC_TARGET
from tests.forking import fork
from tests.security.recorder import RECORDER

from .helpers import rollout_for

COMMANDS = ("pause", "resume", "promote", "abort", "start")
PHASES = (
    Phase.PENDING,
    Phase.PROVISIONING,
    Phase.SHIFTING,
    Phase.BAKING,
    Phase.PROMOTING,
    Phase.ROLLING_BACK,
    Phase.SUCCEEDED,
)
JOB_STATES = ("PENDING_UPLOAD", "RUNNING", "SUCCEEDED", "FAILED")
JOB_ROUTE = "GET /v1/jobs/{job_id}"
EXPECTED_PATHS = (
    {("RolloutApiFunction", p.value, c) for p in PHASES for c in COMMANDS}
    | {("InferenceApiFunction", f"{mode}:{state}", JOB_ROUTE) for mode in ("async", "batch") for state in JOB_STATES}
    | {("InferenceApiFunction", mode, "POST /v1/jobs") for mode in ("async", "batch")}
)


def expected_status(rollout: Rollout, command: str) -> int:
    """What the rollout API must answer, from the state machine's rules (rollout_core.commands)."""
    phase = rollout.phase
    if command == "start":
        return 201
    if phase.terminal:
        return 409
    if command == "abort":
        return 409 if phase in (Phase.ROLLING_BACK, Phase.PROMOTING) else 200
    if phase not in STEERABLE:
        return 409
    if command == "pause":
        return 409 if rollout.paused else 200
    if command == "resume":
        return 200 if rollout.paused else 409
    return 409 if rollout.first_deployment or rollout.fast_forward else 200


def in_fork(check: Callable[[], None]) -> None:
    """Run ``check`` in a forked copy of this process; it fails the test if ``check`` fails."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = fork()
    if pid == 0:
        code = 0
        try:
            check()
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            hooks.exiting()  # the recorder saves this process's calls and paths
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "a command failed in its fork (traceback above)"


def every_command(stack: Sandbox, rollout: Rollout, spare: str) -> None:
    """Each command on ``rollout`` as it is now, each in a fork of its own."""
    phase = rollout.phase

    def run(command: str) -> None:
        if command == "start":
            body = json.dumps({"model_package_arn": spare})
            response = stack.api("POST", "/v1/rollouts", body, {"Content-Type": "application/json"})
        else:
            response = stack.api("POST", f"/v1/rollouts/{rollout.rollout_id}/{command}")
        assert response["statusCode"] == expected_status(rollout, command), (phase, command, response["body"])
        assert [d.error for d in stack.deliveries if d.error] == []
        RECORDER.paths.add(("RolloutApiFunction", phase.value, command))

    for command in COMMANDS:
        in_fork(lambda command=command: run(command))  # type: ignore[misc]


def until(stack: Sandbox, arn: str, phase: Phase, limit: int = 60) -> Rollout:
    for _ in range(limit):
        if rollout_for(arn).phase is phase:
            return rollout_for(arn)
        stack.advance(30, tick_every=30)
    raise AssertionError(f"{arn} never reached {phase}: {rollout_for(arn).phase}")


def test_every_command_in_every_phase(stack: Sandbox):
    v1, v2, v3, spare = (stack.register_package("churn-model") for _ in range(4))
    stack.client("sagemaker").update_model_package(ModelPackageArn=spare, ModelApprovalStatus="Approved")
    stack.set_approval(v1, "Approved")
    stack.advance(300)
    every_command(stack, until(stack, v1, Phase.SUCCEEDED), spare)
    stack.set_approval(v2, "Approved")
    every_command(stack, until(stack, v2, Phase.PROVISIONING), spare)
    every_command(stack, until(stack, v2, Phase.SHIFTING), spare)
    every_command(stack, until(stack, v2, Phase.BAKING), spare)
    stack.set_approval(v3, "Approved")  # v2 winds down (superseded), v3 waits for the endpoint
    every_command(stack, until(stack, v3, Phase.PENDING, limit=1), spare)
    every_command(stack, until(stack, v2, Phase.ROLLING_BACK, limit=1), spare)
    until(stack, v3, Phase.BAKING, limit=120)
    assert stack.api("POST", f"/v1/rollouts/{rollout_for(v3).rollout_id}/promote")["statusCode"] == 200
    every_command(stack, until(stack, v3, Phase.PROMOTING, limit=120), spare)


def test_every_job_route_in_every_job_state(serving_stack: Sandbox):
    stack = serving_stack
    async_endpoint = str(ASYNC_TARGET.inference.async_endpoint_name)

    def create(mode: str) -> dict[str, Any]:
        body = {"target": "churn-model", "mode": mode, "content_type": "text/csv"}
        if mode == "batch":
            body["split_type"] = "Line"
        response = stack.api("POST", "/v1/jobs", json.dumps(body), {"Content-Type": "application/json"})
        assert response["statusCode"] == 201, response["body"]
        RECORDER.paths.add(("InferenceApiFunction", mode, "POST /v1/jobs"))
        created: dict[str, Any] = json.loads(response["body"])
        return created

    def status(mode: str, job_id: str, expected: str) -> None:
        response = stack.api("GET", f"/v1/jobs/{job_id}")
        assert response["statusCode"] == 200, response["body"]
        view = json.loads(response["body"])
        assert view["status"] == expected, view
        assert (view["output"] is not None) == (expected == "SUCCEEDED"), view
        RECORDER.paths.add(("InferenceApiFunction", f"{mode}:{expected}", JOB_ROUTE))

    jobs = []
    for mode in ("async", "batch"):
        for fails in (False, True):
            created = create(mode)
            status(mode, created["job_id"], "PENDING_UPLOAD")
            if fails and mode == "async":
                stack.jobs.fail_next_async[async_endpoint] = "the model could not parse the input"
            elif fails:
                stack.jobs.fail_next_transform = "ClientError: the model could not parse the input"
            assert stack.upload(created["upload"], b"1,2\n3,4\n") == 204
            status(mode, created["job_id"], "RUNNING")
            jobs.append((mode, created["job_id"], "FAILED" if fails else "SUCCEEDED"))
    stack.advance(300)
    for mode, job_id, outcome in jobs:
        status(mode, job_id, outcome)


def test_the_paths_above_are_all_registered():
    """In the file's order this runs last: the two tests above drove every path (the forks'
    paths reach this process when the recorder merges what they saved)."""
    RECORDER.merge_children()
    assert RECORDER.paths >= EXPECTED_PATHS, sorted(EXPECTED_PATHS - RECORDER.paths)
