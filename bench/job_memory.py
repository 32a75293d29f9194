"""Peak memory of the job path's handlers with a 1 GiB input declared, against a 1 KiB one.

One async job end to end on the sandbox (POST /v1/jobs, upload, S3 Object Created -> job
dispatcher -> InvokeEndpointAsync, SageMaker's success notification -> async results,
GET /v1/jobs/{id}), once per declared size, after one unmeasured job (first invocations build
clients and caches). Each handler runs under tracemalloc; its peak is what it allocated above
what was allocated when it started.

"Declared": the S3 Object Created event the dispatcher receives says 1 GiB (``detail.object.size``),
while the object moto holds is the 1 KiB upload (moto takes minutes to store 1 GiB in-process).
The bytes themselves are never the handlers' business: the GetObject/PutObject calls the
handlers make are counted and reported (0), so no handler could have read the input.
"""

from __future__ import annotations

import json
import tracemalloc
from collections import defaultdict
from typing import Any

from bench.serving import TARGET as SERVED
from bench.serving import serving

KIB, GIB = 1024, 1 << 30
UPLOAD = b"5.1,3.5,1.4,0.2\n" * 64  # 1 KiB
TARGET = {**SERVED, "inference": {"async_endpoint_name": "churn-endpoint-async"}}


def _job(sandbox: Any) -> None:
    body = json.dumps({"target": "churn-model", "mode": "async", "content_type": "text/csv"})
    created = sandbox.api("POST", "/v1/jobs", body)
    assert created["statusCode"] == 201, created
    job = json.loads(created["body"])
    assert sandbox.upload(job["upload"], UPLOAD) == 204
    sandbox.advance(120)
    done = json.loads(sandbox.api("GET", f"/v1/jobs/{job['job_id']}")["body"])
    assert done["status"] == "SUCCEEDED", done


def _run(declared: int) -> dict[str, Any]:
    from sandbox.calls import BaseListener, Call, hooks

    class ObjectCalls(BaseListener):
        count = 0

        def on_call(self, call: Call) -> None:
            if call.function and call.action in ("s3:GetObject", "s3:PutObject"):
                self.count += 1

    peaks: dict[str, int] = defaultdict(int)
    with serving(TARGET) as sandbox:
        drain = sandbox.jobs.drain

        def declaring() -> list[dict[str, Any]]:
            events = drain()
            for event in events:
                if event.get("detail-type") == "Object Created":
                    event["detail"]["object"]["size"] = declared
            return events

        sandbox.jobs.drain = declaring  # type: ignore[method-assign]
        for fn, handler in list(sandbox.handlers.items()):

            def measured(event: dict[str, Any], context: Any, fn: str = fn, handler: Any = handler) -> Any:
                if not tracemalloc.is_tracing():
                    return handler(event, context)
                before, _ = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
                try:
                    return handler(event, context)
                finally:
                    peaks[fn] = max(peaks[fn], tracemalloc.get_traced_memory()[1] - before)

            sandbox.handlers[fn] = measured
        objects = hooks.subscribe(ObjectCalls())
        try:
            _job(sandbox)  # warm: the handlers' first invocations
            peaks.clear()
            tracemalloc.start()
            try:
                _job(sandbox)
            finally:
                tracemalloc.stop()
        finally:
            hooks.unsubscribe(objects)
    used = {"JobDispatcherFunction", "AsyncResultsFunction", "InferenceApiFunction"}
    assert used <= set(peaks), f"the job path did not run every handler: {sorted(peaks)}"
    return {"peak_bytes": dict(sorted(peaks.items())), "object_calls": objects.count}


def job_memory() -> dict[str, Any]:
    small, large = _run(KIB), _run(GIB)
    worst_small, worst_large = max(small["peak_bytes"].values()), max(large["peak_bytes"].values())
    return {
        "declared_bytes": {"small": KIB, "large": GIB},
        "small": small,
        "large": large,
        "worst_peak_bytes": {"small": worst_small, "large": worst_large},
        "ratio": round(worst_large / worst_small, 3),
        "object_calls": small["object_calls"] + large["object_calls"],
    }
