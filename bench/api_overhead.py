"""API overhead: the invocations route in-process, against a direct InvokeEndpoint, same moto endpoint.

The direct call uses a client configured as the product's are (rollout_core.aws.clients:
standard retry mode), so the ratio is what the route adds, not a difference of retry modes.
Each measurement runs in a fresh process (``python -m bench.api_overhead``): the ratio moves
more between processes than within one, so the bench keeps the median of several.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

from bench import ROOT

REQUESTS = 1000
RUNS = int(os.environ.get("BENCH_API_RUNS", "3"))
BODY = b"5.1,3.5,1.4,0.2\n" * 64  # 1 KB of CSV


def _event(path: str) -> dict[str, Any]:
    """The REST proxy event API Gateway sends for one invocation ("*/*" binary media)."""
    return {
        "resource": "/v1/endpoints/{endpoint}/invocations",
        "path": path,
        "httpMethod": "POST",
        "headers": {"Content-Type": "text/csv", "Accept": "application/json"},
        "multiValueHeaders": {"Content-Type": ["text/csv"], "Accept": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"endpoint": "churn-endpoint"},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/v1/endpoints/{endpoint}/invocations",
            "httpMethod": "POST",
            "stage": "bench",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": base64.b64encode(BODY).decode(),
        "isBase64Encoded": True,
    }


def api_overhead(requests: int = REQUESTS) -> dict[str, Any]:
    """Median seconds per request through the route and through boto3 directly, and their ratio."""
    from bench.serving import TARGET, serving
    from rollout_core.aws.clients import client
    from sandbox.stack import LambdaContext

    with serving(TARGET) as sandbox:
        handler = sandbox.handlers["InferenceApiFunction"]
        context = LambdaContext("InferenceApiFunction")
        event = _event("/v1/endpoints/churn-endpoint/invocations")
        runtime = client("sagemaker-runtime")
        for _ in range(20):  # warm both paths (clients, models, caches)
            assert handler(event, context)["statusCode"] == 200
            runtime.invoke_endpoint(EndpointName="churn-endpoint", Body=BODY, ContentType="text/csv")
        through_api, direct = [], []
        for _ in range(requests):  # interleaved, so drift affects both alike
            started = time.perf_counter()
            response = handler(event, context)
            through_api.append(time.perf_counter() - started)
            assert response["statusCode"] == 200
            started = time.perf_counter()
            runtime.invoke_endpoint(
                EndpointName="churn-endpoint", Body=BODY, ContentType="text/csv", Accept="application/json"
            )["Body"].read()
            direct.append(time.perf_counter() - started)
    api_s, direct_s = statistics.median(through_api), statistics.median(direct)
    return {
        "requests": requests,
        "api_seconds": round(api_s, 6),
        "direct_seconds": round(direct_s, 6),
        "ratio": round(api_s / direct_s, 3),
    }


def api_overhead_runs(runs: int = RUNS) -> dict[str, Any]:
    """``api_overhead()`` in ``runs`` fresh processes: the run with the median ratio, and every
    run's ratio."""
    results = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-m", "bench.api_overhead"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    middle = statistics.median_low(r["ratio"] for r in results)
    chosen = next(r for r in results if r["ratio"] == middle)
    return {**chosen, "runs": [r["ratio"] for r in results]}


if __name__ == "__main__":
    print(json.dumps(api_overhead()))
