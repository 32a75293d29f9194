"""The Python client and the CLI against the sandbox served over HTTP (python -m sandbox serve),
signing as the inference client (InferenceClientPolicy)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from rollout_client import ApiError, RolloutClient

from .serve import CLIENT_ENV, ROOT, served

LIMIT = 1000  # a small real-time limit, so "large" payloads stay small in the test


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with served("--realtime-limit", str(LIMIT)) as ready:
        yield ready["api"]


@pytest.fixture
def client(api: str, monkeypatch: pytest.MonkeyPatch) -> RolloutClient:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(key, CLIENT_ENV[key])
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    # A job stuck on the sandbox fails the test with its status, instead of polling for an hour.
    return RolloutClient(api, region="us-east-1", realtime_limit=LIMIT, max_poll_interval=1, poll_timeout=180)


def test_small_payload_takes_the_real_time_route(client: RolloutClient):
    result = client.invoke("churn-endpoint", b"1,2,3", "text/csv")
    assert result.route == "real-time"
    assert result.variant
    assert json.loads(result.body or b"")["variant"] == result.variant


def test_large_payload_goes_through_async_and_comes_back(client: RolloutClient, tmp_path: Path):
    source = tmp_path / "big.csv"
    source.write_bytes(b"5.1,3.5,1.4,0.2\n" * 500)  # 8000 bytes > LIMIT
    stages: list[str] = []
    result = client.invoke("churn-endpoint", source, "text/csv", progress=lambda s, *_: stages.append(s.split()[0]))
    assert result.route == "async"
    assert json.loads(result.body or b"")["input_bytes"] == 8000
    assert {"upload", "job", "download"} <= set(stages)


def test_dataset_goes_through_batch_transform_to_a_file(client: RolloutClient, tmp_path: Path):
    source, out = tmp_path / "rows.csv", tmp_path / "out.json"
    source.write_bytes(b"1,2\n" * 10)
    result = client.invoke("churn-endpoint", source, "text/csv", split_type="Line", output=out)
    assert result.route == "batch"
    assert result.output_path == out
    # One prediction per line, as batch transform with SplitType Line and AssembleWith Line gives.
    lines = out.read_bytes().splitlines()
    assert len(lines) == 10
    assert {json.loads(line)["prediction"] for line in lines} == {3 / 7}  # the sandbox model of b"1,2"


def test_errors_surface_with_the_apis_message(client: RolloutClient):
    with pytest.raises(ApiError) as missing:
        client.invoke("churn-endpoint-missing", b"1", "text/csv")
    assert missing.value.status == 404
    assert "churn-endpoint-missing" in missing.value.message


def test_unsigned_requests_are_refused(api: str):
    response = urllib3.PoolManager().request("POST", f"{api}/v1/jobs", body=b"{}")
    assert response.status == 403


def test_cli_invokes_small_and_large_files(api: str, tmp_path: Path):
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    small.write_bytes(b"1,2,3")
    large.write_bytes(b"1,2,3\n" * 400)
    base = [
        sys.executable,
        "-m",
        "rollout_client",
        "--api",
        api,
        "--realtime-limit",
        str(LIMIT),
        "invoke",
        "churn-endpoint",
    ]
    sync = subprocess.run(
        [*base, str(small), "--content-type", "text/csv", "--json"],
        cwd=ROOT,
        env=CLIENT_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert sync.returncode == 0, sync.stderr
    assert json.loads(sync.stdout)["route"] == "real-time"
    out = tmp_path / "result.json"
    job = subprocess.run(
        [*base, str(large), "--content-type", "text/csv", "-o", str(out)],
        cwd=ROOT,
        env=CLIENT_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert job.returncode == 0, job.stderr
    assert "upload" in job.stderr and "download" in job.stderr  # the progress bars
    assert json.loads(out.read_bytes())["input_bytes"] == 2400
    bad = subprocess.run(
        [*base, str(tmp_path / "missing.csv")], cwd=ROOT, env=CLIENT_ENV, capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2


def test_the_client_declares_the_size_so_a_record_too_large_for_batch_is_refused_before_uploading(
    client: RolloutClient, tmp_path: Path
):
    """split_type None in batch: the whole file is one record and must fit MaxPayloadInMB (6 MB
    in the served target). The client sends the file's size, so the API refuses at once (422)
    instead of S3 refusing the upload (or SageMaker failing the transform job)."""
    source = tmp_path / "one-record.bin"
    with source.open("wb") as fh:
        fh.truncate(6_000_001)
    with pytest.raises(ApiError) as refused:
        client.invoke("churn-endpoint", source, "application/octet-stream", mode="batch")
    assert refused.value.status == 422
    assert "MaxPayloadInMB" in refused.value.message


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (413, {"message": "too large"}, True),
        (502, {"message": "answer too large", "code": "ResponseTooLarge"}, True),
        (502, {"message": "SageMaker answered InternalFailure", "code": "InternalFailure"}, False),
        (504, {"message": "did not answer", "code": "ModelTimeout"}, False),  # it may still be running
        (429, {"message": "throttling"}, False),
    ],
)
def test_which_real_time_answers_take_the_job_route(status: int, body: dict[str, str], expected: bool):
    from rollout_client.client import takes_the_job_route

    assert takes_the_job_route(ApiError(status, body["message"], body)) is expected
