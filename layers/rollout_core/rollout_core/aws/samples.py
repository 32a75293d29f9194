"""The smoke test's invocations: sample payloads from S3, sent to the candidate variant directly.

Samples are the model package's ``SamplePayloadUrl`` (DescribeModelPackage) or the target's
``plan.smoke_test.samples_s3_uri``: "a single gzip compressed tar archive (.tar.gz suffix)"
(SageMaker API reference, DescribeModelPackage / RecommendationJobPayloadConfig), whose files
Inference Recommender sends as payloads, each within InvokeEndpoint's limits. Each file is sent
with InvokeEndpoint ``TargetVariant`` = the candidate ("overrides the default behavior for the
endpoint, which is to distribute the invocation traffic based on the variant weights"), so the
candidate answers at weight 0, before any user request reaches it.

Only the bucket the stack was given (SamplePayloadBucket) is read: samples elsewhere are not
read and the smoke test is skipped, saying so (docs/decisions.md).
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from .. import clock
from ..canary_models import RunSmokeTest, SampleResult, SmokeResult
from ..errors import TRANSIENT_ERRORS
from .clients import error_code
from .sagemaker import SageMakerGateway
from .storage import split_uri

MAX_ARCHIVE_BYTES = 20 * 1024 * 1024  # a sample archive larger than this is refused
MAX_SAMPLE_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's request payload limit (6 MB)
EXCERPT_CHARS = 200
# AWS errors after which the whole smoke test is tried again later (they say nothing of the
# candidate): throttling, the service or a dependency unavailable, a model not loaded yet.
TRY_LATER = (TRANSIENT_ERRORS - {"RetryLater"}) | {
    "InternalDependencyException",
    "ModelNotReadyException",
    "SlowDown",
    "InternalError",
    "RequestTimeout",
}

RuntimeFactory = Callable[[float], Any]  # read timeout (s) -> a sagemaker-runtime client


class _TryLater(Exception):
    pass


class _BadSamples(Exception):
    pass


class SmokeRunner:
    def __init__(
        self,
        sagemaker: SageMakerGateway,
        s3: Any,
        runtime: RuntimeFactory,
        allowed_bucket: str | None,
        timer: Callable[[], float] = clock.monotonic,
    ) -> None:
        self._sm = sagemaker
        self._s3 = s3
        self._runtime = runtime
        self._bucket = allowed_bucket or None
        self._timer = timer

    def run(self, action: RunSmokeTest) -> SmokeResult:
        try:
            return self._run(action)
        except _TryLater as exc:
            return SmokeResult(outcome="retry", reason=str(exc))

    def _run(self, action: RunSmokeTest) -> SmokeResult:
        package = self._package(action.model_package_arn)
        uri = action.samples_s3_uri or package.get("SamplePayloadUrl")
        if not uri:
            return SmokeResult(
                outcome="skipped", reason="the model package has no SamplePayloadUrl and the target names no samples"
            )
        try:
            bucket, key = split_uri(str(uri))
        except ValueError:
            return SmokeResult(
                outcome="failed", reason=f"sample payload location {uri} is not an s3:// URI", source=uri
            )
        if bucket != self._bucket:
            allowed = f"SamplePayloadBucket is {self._bucket}" if self._bucket else "SamplePayloadBucket is not set"
            return SmokeResult(
                outcome="skipped",
                reason=f"samples at {uri} not read: {allowed} (the stack reads samples from that bucket only)",
                source=uri,
            )
        try:
            samples = self._samples(bucket, key, action.max_samples)
        except _BadSamples as exc:
            return SmokeResult(outcome="failed", reason=f"{uri}: {exc}", source=uri)
        content_type = action.content_type or _first_content_type(package)
        client = self._runtime(action.latency_budget_ms / 1000 + 1)
        results = [self._invoke(client, action, name, body, content_type) for name, body in samples]
        bad = [r for r in results if not r.ok]
        if bad:
            shown = "; ".join(_told(r, action.latency_budget_ms) for r in bad[:3])
            more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
            return SmokeResult(
                outcome="failed",
                reason=f"{len(bad)} of {len(results)} samples failed: {shown}{more}",
                source=uri,
                samples=results,
            )
        slowest = max(r.latency_ms or 0.0 for r in results)
        return SmokeResult(
            outcome="passed",
            reason=f"{len(results)} samples from {uri} answered 2xx within {action.latency_budget_ms} ms "
            f"(slowest {slowest:.0f} ms)",
            source=uri,
            samples=results,
        )

    def _package(self, arn: str) -> dict[str, Any]:
        try:
            return self._sm.describe_package(arn)
        except ClientError as exc:
            code, message = error_code(exc)
            raise _TryLater(f"DescribeModelPackage: {code}: {message}") from exc

    def _samples(self, bucket: str, key: str, limit: int) -> list[tuple[str, bytes]]:
        """The archive's regular files, by name, at most ``limit`` of them."""
        try:
            got = self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code, message = error_code(exc)
            if code in TRY_LATER:
                raise _TryLater(f"GetObject s3://{bucket}/{key}: {code}") from exc
            raise _BadSamples(f"cannot be read: {code}: {message}") from exc
        size = int(got.get("ContentLength") or 0)
        if size > MAX_ARCHIVE_BYTES:
            raise _BadSamples(f"the archive is {size} bytes; at most {MAX_ARCHIVE_BYTES} are read")
        data = got["Body"].read(MAX_ARCHIVE_BYTES + 1)
        if len(data) > MAX_ARCHIVE_BYTES:
            raise _BadSamples(f"the archive is over {MAX_ARCHIVE_BYTES} bytes")
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
                members = sorted(
                    (m for m in archive.getmembers() if m.isfile() and not _hidden(m.name)), key=lambda m: m.name
                )[:limit]
                samples = []
                for member in members:
                    if member.size > MAX_SAMPLE_BYTES:
                        raise _BadSamples(
                            f"sample {member.name} is {member.size} bytes, over InvokeEndpoint's {MAX_SAMPLE_BYTES}"
                        )
                    handle = archive.extractfile(member)
                    samples.append((member.name, handle.read() if handle is not None else b""))
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise _BadSamples(f"not a gzip compressed tar archive ({exc})") from exc
        if not samples:
            raise _BadSamples("the archive holds no sample file")
        return samples

    def _invoke(
        self, client: Any, action: RunSmokeTest, name: str, body: bytes, content_type: str | None
    ) -> SampleResult:
        kwargs: dict[str, Any] = {
            "EndpointName": action.endpoint_name,
            "TargetVariant": action.variant_name,
            "Body": body,
        }
        if content_type:
            kwargs["ContentType"] = content_type
        started = self._timer()
        try:
            response = client.invoke_endpoint(**kwargs)
            answer = response["Body"].read()
        except ClientError as exc:
            elapsed = (self._timer() - started) * 1000
            code, message = error_code(exc)
            if code in TRY_LATER:
                raise _TryLater(f"InvokeEndpoint: {code}: {message}") from exc
            if code == "ModelError":
                original = str(exc.response.get("OriginalStatusCode") or "")
                text = str(exc.response.get("OriginalMessage") or message)
                return SampleResult(
                    name=name,
                    ok=False,
                    status=int(original) if original.isdigit() else None,
                    latency_ms=round(elapsed, 1),
                    excerpt=text[:EXCERPT_CHARS],
                )
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return SampleResult(
                name=name,
                ok=False,
                status=status,
                latency_ms=round(elapsed, 1),
                excerpt=f"{code}: {message}"[:EXCERPT_CHARS],
            )
        except (ReadTimeoutError, ConnectTimeoutError) as exc:
            return SampleResult(name=name, ok=False, excerpt=f"no answer: {exc}"[:EXCERPT_CHARS])
        except BotoCoreError as exc:
            raise _TryLater(f"InvokeEndpoint: {exc}") from exc
        elapsed = (self._timer() - started) * 1000
        text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
        return SampleResult(
            name=name,
            ok=elapsed <= action.latency_budget_ms,
            status=200,
            latency_ms=round(elapsed, 1),
            excerpt=text[:EXCERPT_CHARS],
        )


def _told(result: SampleResult, budget_ms: int) -> str:
    if result.status is None:
        return f"sample {result.name}: {result.excerpt}"
    took = f"{result.latency_ms:.0f} ms" if result.latency_ms is not None else "?"
    if result.status < 300:
        return f"sample {result.name}: HTTP {result.status} in {took}, over the {budget_ms} ms budget"
    return f"sample {result.name}: HTTP {result.status} in {took}: {result.excerpt}"


def _hidden(name: str) -> bool:
    return any(part.startswith(".") for part in name.split("/"))


def _first_content_type(package: dict[str, Any]) -> str | None:
    types = (package.get("InferenceSpecification") or {}).get("SupportedContentTypes") or []
    return str(types[0]) if types else None
