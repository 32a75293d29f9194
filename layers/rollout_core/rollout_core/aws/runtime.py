"""SageMaker Runtime: real-time and asynchronous invocations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Prediction:
    body: bytes
    content_type: str | None
    invoked_variant: str | None


class RuntimeGateway:
    def __init__(self, client: Any) -> None:
        self._rt = client

    def invoke(
        self, endpoint_name: str, body: bytes, content_type: str, accept: str | None, target_variant: str | None
    ) -> Prediction:
        kwargs: dict[str, Any] = {"EndpointName": endpoint_name, "Body": body, "ContentType": content_type}
        if accept:
            kwargs["Accept"] = accept
        if target_variant:
            kwargs["TargetVariant"] = target_variant
        response = self._rt.invoke_endpoint(**kwargs)
        payload = response["Body"].read()
        return Prediction(
            body=payload if isinstance(payload, bytes) else str(payload).encode(),
            content_type=response.get("ContentType"),
            invoked_variant=response.get("InvokedProductionVariant"),
        )

    def invoke_async(
        self,
        endpoint_name: str,
        input_uri: str,
        content_type: str,
        accept: str | None,
        inference_id: str,
        expiry: tuple[int, int],
    ) -> tuple[str | None, str | None]:
        """Queue one request that SageMaker drops after ``expiry`` = (InvocationTimeoutSeconds,
        RequestTTLSeconds); returns (OutputLocation, FailureLocation)."""
        kwargs: dict[str, Any] = {
            "EndpointName": endpoint_name,
            "InputLocation": input_uri,
            "ContentType": content_type,
            "InferenceId": inference_id,
            "InvocationTimeoutSeconds": expiry[0],
            "RequestTTLSeconds": expiry[1],
        }
        if accept:
            kwargs["Accept"] = accept
        response = self._rt.invoke_endpoint_async(**kwargs)
        return response.get("OutputLocation"), response.get("FailureLocation")
