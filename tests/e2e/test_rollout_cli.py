"""The rollout CLI against the sandbox served over HTTP: every command, and status --watch,
signing as the rollout operator (RolloutOperatorPolicy)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .serve import OPERATOR_ENV, ROOT, served


@pytest.fixture(scope="module", name="served")
def served_sandbox() -> Iterator[dict[str, Any]]:
    with served() as ready:
        yield ready


def cli(served: dict[str, Any], *args: str, command: str = "rollout") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rollout_client", "--api", served["api"], command, *args],
        cwd=ROOT,
        env={**OPERATOR_ENV, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_start_then_watch_it_to_the_end(served: dict[str, Any]):
    started = cli(served, "start", "--package", served["approved_package"], "--json")
    assert started.returncode == 0, started.stderr
    rollout_id = json.loads(started.stdout)["rollout_id"]
    watched = cli(served, "status", rollout_id, "--watch", "--interval", "0.5")
    assert watched.returncode == 0, watched.stderr
    output = watched.stdout
    assert "traffic" in output and "guard alarms" in output
    assert "sagemaker-rollout-churn-5xx" in output
    assert output.count("phase") >= 3, "a snapshot per change"
    assert "BAKING" in output
    assert f"rollout {rollout_id} ended SUCCEEDED" in output
    Path(ROOT / "sandbox-output").mkdir(exist_ok=True)
    (ROOT / "sandbox-output" / "rollout-status-watch.txt").write_text(output)  # for a look


def status_json(served: dict[str, Any], rollout_id: str) -> dict[str, Any]:
    shown = cli(served, "status", rollout_id, "--json")
    assert shown.returncode == 0, shown.stderr
    view: dict[str, Any] = json.loads(shown.stdout)
    return view


def watch_to_the_end(served: dict[str, Any], rollout_id: str) -> str:
    watched = cli(served, "status", rollout_id, "--watch", "--interval", "0.5")
    assert watched.returncode == 0, watched.stderr
    return watched.stdout


def test_list_status_and_the_steering_commands(served: dict[str, Any]):
    """Every command's exit code and the state it leaves: each is sent in a state that makes
    its answer certain (abort while paused; abort again once the rollout has ended)."""
    started = json.loads(cli(served, "start", "--package", served["approved_package"], "--json").stdout)
    rollout_id = started["rollout_id"]
    paused = cli(served, "pause", rollout_id)
    assert paused.returncode == 0, paused.stderr
    assert "(paused)" in paused.stdout
    again = cli(served, "pause", rollout_id)
    assert again.returncode == 1
    assert "error 409" in again.stderr
    assert "already paused" in again.stderr
    listing = cli(served, "list", "--live")
    assert listing.returncode == 0
    assert rollout_id in listing.stdout
    as_json = json.loads(cli(served, "list", "--json").stdout)
    assert rollout_id in {r["rollout_id"] for r in as_json}
    status = cli(served, "status", rollout_id)
    assert "history" in status.stdout
    assert "paused by" in status.stdout
    # A paused rollout holds its weights, so the abort finds it where the pause left it.
    aborted = cli(served, "abort", rollout_id)
    assert aborted.returncode == 0, aborted.stderr
    assert "ROLLING_BACK" in aborted.stdout
    assert f"rollout {rollout_id} ended ABORTED" in watch_to_the_end(served, rollout_id)
    final = status_json(served, rollout_id)
    assert final["phase"] == "ABORTED" and "aborted by" in final["reason"]
    assert final["live"]["weights"] == {final["baseline_variant"]: 100}, "back on the baseline, the candidate gone"
    refused = cli(served, "abort", rollout_id)
    assert refused.returncode == 1
    assert "error 409" in refused.stderr and "nothing to abort" in refused.stderr

    # Resume and promote, on a second rollout: it ends SUCCEEDED, and then abort is refused.
    second = json.loads(cli(served, "start", "--package", served["approved_package"], "--json").stdout)["rollout_id"]
    assert cli(served, "pause", second).returncode == 0
    assert cli(served, "resume", second).returncode == 0
    promoted = cli(served, "promote", second)
    assert promoted.returncode == 0, promoted.stderr
    assert f"rollout {second} ended SUCCEEDED" in watch_to_the_end(served, second)
    done = status_json(served, second)
    assert done["phase"] == "SUCCEEDED"
    assert done["live"]["weights"] == {done["candidate_variant"]: 100}
    too_late = cli(served, "abort", second)
    assert too_late.returncode == 1
    assert "error 409" in too_late.stderr and "SUCCEEDED: nothing to abort" in too_late.stderr

    missing = cli(served, "status", "0123456789")
    assert missing.returncode == 1
    assert "404" in missing.stderr
    unknown = cli(served, "start", "--package", served["approved_package"].rsplit("/", 1)[0] + "/42")
    assert unknown.returncode == 1
    assert "404" in unknown.stderr


def test_doctor_over_http_as_the_operator(served: dict[str, Any]):
    """``doctor ENDPOINT``: the findings as a table or JSON, exit 1 only on a HIGH finding;
    an endpoint that does not exist is the API's 404 (exit 1)."""

    def doctor(*args: str) -> subprocess.CompletedProcess[str]:
        return cli(served, *args, command="doctor")

    as_json = doctor(served["endpoint"], "--json")
    report = json.loads(as_json.stdout)
    # the served endpoint: its guard alarm exists, no HIGH finding; its variant has no autoscaling
    assert as_json.returncode == 0, as_json.stderr
    assert report["endpoint"] == served["endpoint"] and report["high"] is False
    assert [(f["severity"], f["check"]) for f in report["findings"]] == [("LOW", "autoscaling")]
    table = doctor(served["endpoint"])
    assert table.returncode == 0 and "has no autoscaling" in table.stdout and "LOW" in table.stdout
    missing = doctor("no-such-endpoint")
    assert missing.returncode == 1 and "error 404" in missing.stderr
