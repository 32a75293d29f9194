"""`python -m bench` (`make bench`): prints a table and writes bench-results.json at the repo root.

- cold start: import + client set-up of each function module in fresh processes of the runtime's
  Python with the core layer alone (median of several), as a ratio to a bare handler that imports
  the layer's boto3 and makes the same clients, in the same run (worst function: ``cold_start_ratio``);
- controller tick: time and AWS calls of one scheduled tick with 1, 10, 100 and 1000 live
  rollouts, with many finished rollouts in the table too (they must not count);
- controller tick at 30 ms per AWS call (bench/tick_latency.py): wall time of one tick with 1, 10,
  100 and 1000 live rollouts when every call takes 30 ms, with the controller's pool and
  sequentially (one worker) in the same run: ``tick_wall_seconds_at_30ms`` and the speed-up;
- alarm reaction: AWS calls and handler time from a guard alarm's event to the baseline at
  100 %, and to the candidate removed;
- api_overhead_ratio: in-process time per request of the invocations route, as a ratio to a
  direct boto3 InvokeEndpoint on the same moto endpoint, median of 3 fresh processes (bench/api_overhead.py);
- job path memory: each job handler's peak allocation with a 1 GiB input declared, against a
  1 KiB one, and the GetObject/PutObject calls they made (bench/job_memory.py).
- the front door under load (bench/serve_load.py): ``python -m sandbox serve`` in its own process,
  2,000 real-time requests on 16 connections (p50/p99 over a direct InvokeEndpoint on the same
  moto server) and 50 concurrent jobs of 1-20 MB; no 5xx, every job in a final state.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench import ROOT

COLD_RUNS = int(os.environ.get("BENCH_COLD_RUNS", "7"))
LIVE = (1, 10, 100, 1000)
FINISHED = int(os.environ.get("BENCH_FINISHED", "3000"))  # settled rollouts in the table during every tick


# --- cold start --------------------------------------------------------------------------------------


def _layer() -> tuple[str, Path]:
    """The runtime's Python (the closest one when the machine lacks it) and the core layer built
    from its requirements alone for this machine (tests/deployed/layer.py, as the tests' import check)."""
    from tests.deployed import layer

    python, found, _ = layer.runtime_python()
    return python, layer.assemble(layer.install(found, layer.native_arch()), Path(tempfile.mkdtemp(prefix="bench-")))


def _run_cold(python: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [python, "-S", str(ROOT / "bench" / "cold_start.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def cold_start() -> dict[str, Any]:
    """Each function as Lambda loads it: the runtime's Python with its code, the core layer and the
    standard library only, in the environment template.yaml and the runtime give it (with
    LAMBDA_TASK_ROOT, Powertools Tracer is on and the X-Ray SDK takes its Lambda set-up; outside
    Lambda it builds an X-Ray client for centralized sampling, which a function never pays for).
    Nothing is compiled ahead: sam build ships the layer without .pyc files, and only /tmp is
    writable on Lambda ("Lambda isolation technologies", Security Overview of AWS Lambda), so every
    cold start compiles what it imports from the layer; so does every process here."""
    from tests.deployed.lambda_env import function_environments, isolated

    python, layer_python = _layer()
    environments = function_environments()
    functions = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
    results: dict[str, Any] = {}
    try:
        for name in functions:
            env = isolated(environments[name], ROOT / "functions" / name, layer_python)
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            _run_cold(python, ["function", name], env)  # warm the OS file cache: every run reads the same files
            runs = [_run_cold(python, ["function", name], env) for _ in range(COLD_RUNS)]
            services = runs[0]["services"]
            bare = [_run_cold(python, ["bare", *services], env) for _ in range(COLD_RUNS)]
            fn_s = statistics.median(r["seconds"] for r in runs)
            bare_s = statistics.median(r["seconds"] for r in bare)
            results[name] = {
                "seconds": round(fn_s, 4),
                "import_seconds": round(statistics.median(r["import_seconds"] for r in runs), 4),
                "bare_seconds": round(bare_s, 4),
                "ratio": round(fn_s / bare_s, 3),
                "clients": services,
                "modules": runs[0]["modules"],
                "bare_modules": bare[0]["modules"],
                "python": runs[0]["python"],
            }
    finally:
        shutil.rmtree(layer_python.parent, ignore_errors=True)
    return results


# --- the controller tick -----------------------------------------------------------------------------


class _Counter:
    def __init__(self, function: str) -> None:
        self.function, self.calls = function, 0

    def on_call(self, call: Any) -> None:
        if call.function == self.function:
            self.calls += 1

    def on_send(self, call: Any, attempt: int) -> None:
        return None

    def on_result(self, call: Any) -> None:
        return None

    def on_presign(self, call: Any) -> None:
        return None


def _seed(sandbox: Any, live: int, finished: int, first: int = 0) -> None:
    """``live`` rollouts baking on their own endpoints (numbered from ``first``) and ``finished``
    settled ones, written to the table directly."""
    from rollout_core import machine
    from rollout_core.aws.store import RolloutStore
    from rollout_core.models import Phase, Target, VariantSpec
    from sandbox.stack import TABLE

    ddb, sm = sandbox.client("dynamodb"), sandbox.client("sagemaker")
    store = RolloutStore(ddb, TABLE)
    base = VariantSpec(variant_name="v-base", model_name="bench-base", instance_type="ml.m5.large", instance_count=1)
    if live and first == 0:
        sm.create_model(ModelName="bench-base", ExecutionRoleArn=sandbox.role_arn, PrimaryContainer={"Image": "x"})
    numbers = [*range(first, first + live), *range(10**6, 10**6 + finished)]
    for n in numbers:
        target = Target.model_validate(
            {
                "model_package_group": f"bench-{n}",
                "endpoint_name": f"bench-{n}",
                "instance_type": "ml.m5.large",
                "plan": {"steps": [50, 100], "bake_seconds": 3600},
                "guard_alarms": ["sagemaker-rollout-bench-5xx"],
            }
        )
        arn = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/bench-{n}/1"
        rollout = machine.new_rollout(target, arn, sandbox.now)
        if n < first + live:
            cand = rollout.candidate
            weights = {base.variant_name: 50, cand.variant_name: 50}
            config = f"bench-{n}-config"
            sm.create_model(
                ModelName=cand.model_name, ExecutionRoleArn=sandbox.role_arn, PrimaryContainer={"Image": "x"}
            )
            sm.create_endpoint_config(
                EndpointConfigName=config,
                ProductionVariants=[
                    {
                        "VariantName": v.variant_name,
                        "ModelName": v.model_name,
                        "InstanceType": "ml.m5.large",
                        "InitialInstanceCount": 1,
                        "InitialVariantWeight": 50.0,
                    }
                    for v in (base, cand)
                ],
            )
            sm.create_endpoint(EndpointName=target.endpoint_name, EndpointConfigName=config)
            rollout = rollout.model_copy(
                update={
                    "phase": Phase.BAKING,
                    "baseline": base,
                    "desired_config": config,
                    "desired_weights": weights,
                    "step_index": 0,
                    "step_started_at": sandbox.now,
                    "requested_at": sandbox.now,
                    "attempts": 1,
                }
            )
        else:
            update: dict[str, Any] = {"phase": Phase.SUCCEEDED, "reason": "bench: finished long ago"}
            if "outbox" in type(rollout).model_fields:
                update["outbox"] = []  # announced long ago: settled
            rollout = rollout.model_copy(update=update)
            assert rollout.settled
        ddb.put_item(TableName=TABLE, Item=store._item(rollout.model_copy(update={"version": 1})))
    sandbox.now += timedelta(seconds=300)
    sandbox.simulator.advance()
    sandbox.simulator.drain()


def _measure(sandbox: Any, live: int, repeats: int) -> dict[str, Any]:
    from sandbox.calls import hooks
    from sandbox.stack import LambdaContext

    event = sandbox.captured(sandbox.tick)[0]
    handler = sandbox.handlers["RolloutControllerFunction"]
    counter = _Counter("RolloutControllerFunction")
    hooks.subscribe(counter)
    try:
        handler(event, LambdaContext("RolloutControllerFunction"))  # warm: the clients exist afterwards
        times, calls = [], []
        for _ in range(repeats):
            counter.calls = 0
            started = time.perf_counter()
            result = handler(event, LambdaContext("RolloutControllerFunction"))
            times.append(time.perf_counter() - started)
            calls.append(counter.calls)
    finally:
        hooks.unsubscribe(counter)
    assert len(result["rollouts"]) == live, result
    return {"seconds": round(statistics.median(times), 4), "calls": int(statistics.median(calls))}


def ticks(levels: tuple[int, ...], finished: int) -> dict[str, dict[str, Any]]:
    """One table with ``finished`` settled rollouts; live rollouts added level by level."""
    from sandbox.stack import Sandbox

    out = {}
    with Sandbox(update_seconds=60) as sandbox:
        sandbox.create_alarm("sagemaker-rollout-bench-5xx")
        _seed(sandbox, 0, finished)
        seeded = 0
        for live in levels:
            _seed(sandbox, live - seeded, 0, first=seeded)
            seeded = live
            out[str(live)] = _measure(sandbox, live, repeats=3 if live < 1000 else 2)
    return out


def tick(live: int, finished: int, repeats: int) -> dict[str, Any]:
    from sandbox.stack import Sandbox

    with Sandbox(update_seconds=60) as sandbox:
        sandbox.create_alarm("sagemaker-rollout-bench-5xx")
        _seed(sandbox, live, finished)
        return _measure(sandbox, live, repeats)


# --- alarm reaction ----------------------------------------------------------------------------------


def alarm_reaction() -> dict[str, Any]:
    from rollout_core.models import Target
    from sandbox.calls import hooks
    from sandbox.stack import Sandbox

    alarm = "sagemaker-rollout-churn-5xx"
    target = Target.model_validate(
        {
            "model_package_group": "churn-model",
            "endpoint_name": "churn-endpoint",
            "instance_type": "ml.m5.large",
            "plan": {"steps": [50, 100], "bake_seconds": 600},
            "guard_alarms": [alarm],
        }
    )
    params = {"EndpointName": target.endpoint_name, "ModelPackageGroupName": target.model_package_group}
    with Sandbox(update_seconds=60, parameters=params) as sandbox:
        sandbox.put_target(target.model_dump_json(), target.model_package_group)
        sandbox.create_alarm(alarm)
        v1, v2 = (sandbox.register_package(target.model_package_group) for _ in range(2))
        sandbox.set_approval(v1, "Approved")
        sandbox.advance(120)
        sandbox.set_approval(v2, "Approved")
        sandbox.advance(180)
        baseline = next(v for v, w in (sandbox.endpoint_weights(target.endpoint_name) or {}).items() if w == 50)
        handler_time = [0.0]
        for fn, handler in list(sandbox.handlers.items()):

            def timed(event: dict[str, Any], context: Any, handler: Any = handler) -> Any:
                started = time.perf_counter()
                try:
                    return handler(event, context)
                finally:
                    handler_time[0] += time.perf_counter() - started

            sandbox.handlers[fn] = timed
        counter = _Counter("RolloutControllerFunction")
        hooks.subscribe(counter)
        marks: dict[str, Any] = {}
        try:
            start = sandbox.now
            sandbox.set_alarm(alarm, "ALARM")
            marks["alarm_event"] = {"calls": counter.calls, "handler_seconds": round(handler_time[0], 4)}
            for _ in range(30):
                weights = sandbox.endpoint_weights(target.endpoint_name) or {}
                if weights.get(baseline) == 100 and "baseline_at_100" not in marks:
                    marks["baseline_at_100"] = {
                        "calls": counter.calls,
                        "handler_seconds": round(handler_time[0], 4),
                        "simulated_seconds": (sandbox.now - start).total_seconds(),
                    }
                if weights == {baseline: 100}:
                    marks["candidate_removed"] = {
                        "calls": counter.calls,
                        "handler_seconds": round(handler_time[0], 4),
                        "simulated_seconds": (sandbox.now - start).total_seconds(),
                    }
                    break
                sandbox.advance(60)
        finally:
            hooks.unsubscribe(counter)
    return marks


# --- main --------------------------------------------------------------------------------------------


def main() -> int:
    import functools

    import botocore.loaders
    import botocore.session

    # In-process benchmarks: parse each service model once (a real Lambda does it once per cold
    # start; the cold-start numbers above come from fresh processes and are not affected).
    botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)
    os.environ.setdefault("SANDBOX_LOG_LEVEL", "ERROR")
    started = time.perf_counter()
    machine = (
        f"{platform.machine()} {os.cpu_count()} cpu, {platform.python_implementation()} {platform.python_version()}"
    )
    print(f"sagemaker-rollout benchmarks on {machine}")

    cold = cold_start()
    python = next(iter(cold.values()))["python"]
    print(f"\ncold start (import + clients, Python {python} and the layer alone, median of {COLD_RUNS} processes)")
    print(f"  {'function':<22} {'seconds':>8} {'import':>8} {'bare':>8} {'ratio':>6}  clients")
    for name, r in cold.items():
        print(
            f"  {name:<22} {r['seconds']:>8.3f} {r['import_seconds']:>8.3f} {r['bare_seconds']:>8.3f} "
            f"{r['ratio']:>6.2f}  {', '.join(r['clients'])}"
        )
    worst = max(cold, key=lambda n: cold[n]["ratio"])

    print(f"\ncontroller tick ({FINISHED} finished rollouts in the table as well)")
    print(f"  {'live':>6} {'seconds':>9} {'AWS calls':>10} {'s/live':>9}")
    scale = ticks(LIVE, FINISHED)
    for live, t in scale.items():
        print(f"  {live:>6} {t['seconds']:>9.3f} {t['calls']:>10} {t['seconds'] / int(live):>9.4f}")
    history_free = tick(10, 0, repeats=3)
    print(f"  10 live, no finished rollouts at all: {history_free['seconds']:.3f} s, {history_free['calls']} calls")

    from bench.tick_latency import LATENCY, tick_at_latency

    latency = tick_at_latency(LIVE, LATENCY)
    print(f"\ncontroller tick at {LATENCY * 1000:.0f} ms per AWS call (recorded answers replayed; pool vs one worker)")
    print(f"  {'live':>6} {'seconds':>9} {'sequential':>11} {'speed-up':>9} {'workers':>8} {'AWS calls':>10}")
    for live, t in latency.items():
        print(
            f"  {live:>6} {t['seconds']:>9.3f} {t['sequential_seconds']:>11.3f} {t['speedup']:>9.2f}"
            f" {t['workers']:>8} {t['calls']:>10}"
        )

    alarm = alarm_reaction()
    print("\nalarm reaction (controller, from the ALARM event)")
    for mark, values in alarm.items():
        print(f"  {mark:<18} " + ", ".join(f"{k} {v}" for k, v in values.items()))

    from bench.api_overhead import api_overhead_runs

    overhead = api_overhead_runs()
    print(
        f"\napi overhead (invocations route in-process vs direct InvokeEndpoint: median of {overhead['requests']}"
        f" interleaved pairs per fresh process; the median of {len(overhead['runs'])} processes)"
    )
    print(
        f"  route {overhead['api_seconds'] * 1000:.2f} ms, direct {overhead['direct_seconds'] * 1000:.2f} ms, "
        f"ratio {overhead['ratio']:.2f} (processes: {', '.join(f'{r:.2f}' for r in overhead['runs'])})"
    )

    from bench.job_memory import job_memory

    memory = job_memory()
    print("\njob path peak memory (tracemalloc, per handler invocation; the S3 event declares the size)")
    print(f"  {'function':<28} {'1 KiB':>10} {'1 GiB':>10}")
    for fn, small in memory["small"]["peak_bytes"].items():
        print(f"  {fn:<28} {small / 1024:>8.0f} K {memory['large']['peak_bytes'].get(fn, 0) / 1024:>8.0f} K")
    print(f"  worst ratio 1 GiB / 1 KiB: {memory['ratio']:.2f}")
    print(f"  GetObject/PutObject calls by the handlers: {memory['object_calls']}")

    from bench.serve_load import printed

    load = printed()
    rt = load["real_time"]

    results = {
        "machine": machine,
        "cold_start_ratio": cold[worst]["ratio"],
        "cold_start_worst_function": worst,
        "cold_start": cold,
        "cold_start_python": python,
        "api_overhead_ratio": overhead["ratio"],
        "api_overhead": overhead,
        "job_memory_ratio": memory["ratio"],
        "job_memory": memory,
        "tick_seconds": {k: v["seconds"] for k, v in scale.items()},
        "tick_calls": {k: v["calls"] for k, v in scale.items()},
        "tick_finished_rollouts": FINISHED,
        "tick_10_live_without_finished": history_free,
        "tick_wall_seconds_at_30ms": {k: v["seconds"] for k, v in latency.items()},
        "tick_at_30ms": latency,
        "alarm_reaction": alarm,
        "serve_overhead_p50_ms": rt["overhead_p50_ms"],
        "serve_overhead_p99_ms": rt["overhead_p99_ms"],
        "serve_load": load,
        "bench_seconds": round(time.perf_counter() - started, 1),
    }
    (ROOT / "bench-results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote bench-results.json ({results['bench_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
