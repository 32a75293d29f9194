"""The front door under load: ``python -m sandbox serve`` driven from loopback (issue 14 item 3).

``python -m sandbox serve`` runs in a process of its own (the API on a ThreadingHTTPServer, the
stack on a moto server). This process is the callers, with the real client
(rollout_client.RolloutClient: SigV4-signed as the inference client, urllib3):

- real-time: ``REQUESTS`` POSTs to the invocations route on ``CONNECTIONS`` connections at once
  (one client per connection), then as many direct InvokeEndpoint calls on the same moto server
  with boto3 (the product's client settings), at the same concurrency; the overhead is the route's
  p50/p99 minus the direct call's;
- jobs: ``JOBS`` jobs at once, each created, its input of 1-20 MB uploaded with the presigned
  POST, then polled until it is SUCCEEDED or FAILED.

What must hold: no answer 5xx, every job in a final state within ``JOB_TIMEOUT`` seconds. The
sandbox serve answers one request at a time (moto is not thread-safe: serve.LOCK), so the route's
figures at 16 connections include the wait for that lock; the direct calls do not take it.
``python -m bench.serve_load`` runs it alone and prints JSON (BENCH_SERVE_REQUESTS, BENCH_SERVE_JOBS
make it smaller).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import ROOT

REQUESTS = int(os.environ.get("BENCH_SERVE_REQUESTS", "2000"))
CONNECTIONS = 16
JOBS = int(os.environ.get("BENCH_SERVE_JOBS", "50"))
JOB_MB = (1, 20)  # each job's input: a size drawn from this range (seeded)
JOB_TIMEOUT = 600.0
BODY = b"5.1,3.5,1.4,0.2\n" * 64  # 1 KB of CSV, as bench/api_overhead.py
ENDPOINT = "churn-endpoint"
CLIENT = "inference-client"  # the principal the callers sign as (sandbox/gateway.py)


def _start() -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """``python -m sandbox serve`` on a free port; its ready line (API and moto URLs, principals)."""
    env = {**os.environ, "SANDBOX_LOG_LEVEL": "ERROR", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("{"):
        proc.kill()
        raise RuntimeError(f"sandbox serve did not start: {line!r}")
    return proc, json.loads(line)


def _client(ready: dict[str, Any]) -> Any:
    from botocore.session import Session

    from rollout_client.client import RolloutClient

    keys = ready["principals"][CLIENT]
    session = Session()
    session.set_credentials(keys["access_key"], keys["secret_key"])
    return RolloutClient(
        ready["api"], region="us-east-1", session=session, poll_timeout=JOB_TIMEOUT, max_poll_interval=1
    )


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]  # nearest rank
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p99_ms": round(p99 * 1000, 2)}


def _spread(work: Any, count: int) -> tuple[list[Any], float]:
    """``work(i)`` for i in range(count), CONNECTIONS at a time; results and wall seconds."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
        results = list(pool.map(work, range(count)))
    return results, time.perf_counter() - started


def real_time(ready: dict[str, Any], requests: int) -> dict[str, Any]:
    """The invocations route and direct InvokeEndpoint, ``requests`` each at CONNECTIONS at once."""
    import threading

    import boto3

    from rollout_client.client import ApiError
    from rollout_core.aws.clients import RETRY_CONFIG

    local = threading.local()  # one API client (one connection) per caller thread

    def through_api(_: int) -> tuple[float, int]:
        if not hasattr(local, "client"):
            local.client = _client(ready)
        started = time.perf_counter()
        try:
            status = int(local.client.request("POST", f"/v1/endpoints/{ENDPOINT}/invocations", BODY, HEADERS).status)
        except ApiError as exc:
            status = exc.status
        return time.perf_counter() - started, status

    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=ready["moto"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=RETRY_CONFIG,
    )

    def direct(_: int) -> tuple[float, int]:
        started = time.perf_counter()
        answer = runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=BODY, ContentType="text/csv", Accept="text/csv")
        answer["Body"].read()
        return time.perf_counter() - started, int(answer["ResponseMetadata"]["HTTPStatusCode"])

    for warm in range(CONNECTIONS):  # clients, connections and the model's first call
        through_api(warm), direct(warm)
    api, api_wall = _spread(through_api, requests)
    raw, direct_wall = _spread(direct, requests)
    api_p, direct_p = _percentiles([s for s, _ in api]), _percentiles([s for s, _ in raw])
    statuses: dict[str, int] = {}
    for _, status in api:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {
        "requests": requests,
        "connections": CONNECTIONS,
        "statuses": statuses,
        "server_errors": sum(1 for _, status in api if status >= 500),
        "api": {**api_p, "per_second": round(requests / api_wall, 1)},
        "direct": {**direct_p, "per_second": round(requests / direct_wall, 1)},
        "overhead_p50_ms": round(api_p["p50_ms"] - direct_p["p50_ms"], 2),
        "overhead_p99_ms": round(api_p["p99_ms"] - direct_p["p99_ms"], 2),
    }


HEADERS = {"Content-Type": "text/csv", "Accept": "text/csv"}


def jobs(ready: dict[str, Any], count: int) -> dict[str, Any]:
    """``count`` jobs at once: create, upload 1-20 MB with the presigned POST, poll to the end."""
    from rollout_client.client import ApiError

    rng = random.Random(14)
    sizes = [rng.randint(JOB_MB[0] * 1024**2, JOB_MB[1] * 1024**2) // len(BODY) * len(BODY) for _ in range(count)]
    folder = Path(tempfile.mkdtemp(prefix="serve-load-"))

    def one(i: int) -> dict[str, Any]:
        client = _client(ready)
        path = folder / f"input-{i}.csv"
        with path.open("wb") as out:
            for _ in range(sizes[i] // len(BODY)):
                out.write(BODY)
        started = time.perf_counter()
        try:
            job = client.create_job("text/csv", endpoint=ENDPOINT, size_bytes=sizes[i])
            with path.open("rb") as source:
                client._upload(job["upload"], source, sizes[i], None)
            uploaded = time.perf_counter() - started
            done = client.wait(job["job_id"])
            total = time.perf_counter() - started
            return {"status": done["status"], "mode": job["mode"], "upload_s": uploaded, "total_s": total}
        except ApiError as exc:
            total = time.perf_counter() - started
            return {"status": f"HTTP {exc.status}", "error": exc.message[:200], "total_s": total}
        finally:
            path.unlink(missing_ok=True)

    try:
        with ThreadPoolExecutor(max_workers=count) as pool:  # every job at once
            started = time.perf_counter()
            results = list(pool.map(one, range(count)))
            wall = time.perf_counter() - started
    finally:
        folder.rmdir()
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[r["status"]] = outcomes.get(r["status"], 0) + 1
    finished = [r for r in results if r["status"] in ("SUCCEEDED", "FAILED")]
    return {
        "jobs": count,
        "megabytes": round(sum(sizes) / 1024**2, 1),
        "sizes_mb": [round(min(sizes) / 1024**2, 1), round(max(sizes) / 1024**2, 1)],
        "outcomes": outcomes,
        "all_final": len(finished) == count,
        "server_errors": sum(1 for r in results if r["status"].startswith("HTTP 5")),
        "modes": sorted({r.get("mode", "?") for r in results}),
        "wall_seconds": round(wall, 1),
        "upload_p50_s": round(statistics.median(r.get("upload_s", 0.0) for r in results), 2),
        "total_p99_s": round(_percentiles([r["total_s"] for r in results])["p99_ms"] / 1000, 2),
    }


def serve_load(requests: int = REQUESTS, job_count: int = JOBS) -> dict[str, Any]:
    proc, ready = _start()
    try:
        return {"real_time": real_time(ready, requests), "jobs": jobs(ready, job_count)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def printed() -> dict[str, Any]:
    """serve_load() with a table printed (make bench); raises when a 5xx came or a job did not end."""
    load = serve_load()
    rt, jb = load["real_time"], load["jobs"]
    print(
        f"\nsandbox serve under load (its own process, from loopback; {rt['requests']} real-time requests"
        f" on {rt['connections']} connections, then {jb['jobs']} jobs at once)"
    )
    print(f"  {'':<22} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7}")
    for name, figures in (("invocations route", rt["api"]), ("direct InvokeEndpoint", rt["direct"])):
        print(f"  {name:<22} {figures['p50_ms']:>8.1f} {figures['p99_ms']:>8.1f} {figures['per_second']:>7.1f}")
    print(f"  overhead: p50 {rt['overhead_p50_ms']:.1f} ms, p99 {rt['overhead_p99_ms']:.1f} ms; {rt['statuses']}")
    print(
        f"  jobs: {jb['outcomes']} ({jb['megabytes']} MB, {jb['sizes_mb'][0]}-{jb['sizes_mb'][1]} MB each, "
        f"{', '.join(jb['modes'])}), all final: {jb['all_final']}, in {jb['wall_seconds']} s"
    )
    if rt["server_errors"] or jb["server_errors"] or not jb["all_final"]:
        raise SystemExit(f"sandbox serve under load: 5xx or unfinished jobs: {json.dumps(load)}")
    return load


if __name__ == "__main__":
    print(json.dumps(serve_load(), indent=2))
