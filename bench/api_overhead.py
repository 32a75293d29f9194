"""API overhead: the invocations route in-process, against a direct InvokeEndpoint, same moto endpoint.

The direct call uses a client configured as the product's are (rollout_core.aws.clients:
standard retry mode), so the ratio is what the route adds, not a difference of retry modes.
"""

from __future__ import annotations

import base64
import statistics
import time
import uuid
from typing import Any

REQUESTS = 1000
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
