"""One call for every payload size: the real-time route under the limit, the job route above it.

Requests are signed with SigV4 for ``execute-api`` by botocore (credentials from the usual
chain) and sent with urllib3, both already boto3's dependencies: no extra auth package.
Uploads and downloads stream from and to files; a 1 GB input is never held in memory.
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlencode, urlsplit

import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.session import Session

REALTIME_LIMIT_BYTES = 4_500_000  # the API's default (template parameter RealtimeLimitBytes)
CHUNK = 1024 * 1024

Progress = Callable[[str, int, int | None], None]  # (stage, bytes or seconds so far, total)


class ApiError(Exception):
    """The API answered with an error status; ``message`` is its explanation."""

    def __init__(self, status: int, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.body = body or {}


@dataclass
class InvokeResult:
    """What an invocation returned: the body (or where it was written), and how it ran."""

    route: str  # "real-time" | "async" | "batch"
    body: bytes | None
    output_path: Path | None = None
    content_type: str | None = None
    variant: str | None = None
    job_id: str | None = None


class _Multipart(io.RawIOBase):
    """A multipart/form-data body streamed from a file, with a known length (S3 needs it)."""

    def __init__(self, fields: dict[str, str], source: IO[bytes], size: int, progress: Progress | None) -> None:
        self.boundary = uuid.uuid4().hex
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        )
        head += f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; filename="input"\r\n\r\n'.encode()
        tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.length = len(head) + size + len(tail)
        self._parts: Iterator[bytes] = self._chunks(head, source, tail)
        self._size, self._sent, self._progress = size, 0, progress
        self._buffer = b""

    def _chunks(self, head: bytes, source: IO[bytes], tail: bytes) -> Iterator[bytes]:
        yield head
        while block := source.read(CHUNK):
            self._sent += len(block)
            if self._progress:
                self._progress("upload", self._sent, self._size)
            yield block
        yield tail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._parts)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._buffer))
        buffer[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


class RolloutClient:
    """Client of one deployed stack's API (``InferenceApiUrl`` output, e.g. https://.../dev)."""

    def __init__(
        self,
        base_url: str,
        region: str | None = None,
        session: Session | None = None,
        realtime_limit: int = REALTIME_LIMIT_BYTES,
        poll_timeout: float = 3600,
        max_poll_interval: float = 30,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session or Session()
        self.region = (
            region or self._session.get_config_variable("region") or os.environ.get("AWS_REGION") or "us-east-1"
        )
        self.realtime_limit = realtime_limit
        self.poll_timeout = poll_timeout
        self.max_poll_interval = max_poll_interval
        self._http = urllib3.PoolManager(retries=urllib3.Retry(total=3, backoff_factor=0.5, allowed_methods=None))

    # --- the API ----------------------------------------------------------------------------

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
        """A SigV4-signed API call; returns the urllib3 response (raises ApiError on >= 400)."""
        url = self.base_url + path
        signed = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        credentials = self._session.get_credentials()
        if credentials is None:
            raise ApiError(0, "no AWS credentials found (the API uses IAM auth)")
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self.region).add_auth(signed)
        response = self._http.request(method, url, body=body or None, headers=dict(signed.headers.items()))
        if response.status >= 400:
            raise self._error(response)
        return response

    @staticmethod
    def _error(response: Any) -> ApiError:
        try:
            body = json.loads(response.data)
            message = (
                body.get("message", response.data.decode(errors="replace")) if isinstance(body, dict) else str(body)
            )
        except ValueError:
            body, message = None, response.data.decode(errors="replace")
        return ApiError(response.status, str(message), body if isinstance(body, dict) else None)

    def create_job(
        self,
        content_type: str,
        *,
        endpoint: str | None = None,
        target: str | None = None,
        mode: str = "auto",
        split_type: str = "None",
        accept: str | None = None,
        size_bytes: int | None = None,
    ) -> dict[str, Any]:
        """Record a job; ``size_bytes`` (the input's size) lets the API refuse at once (422) what
        the mode cannot take, and holds the upload to it."""
        request: dict[str, Any] = {"content_type": content_type, "mode": mode, "split_type": split_type}
        request.update({k: v for k, v in (("endpoint", endpoint), ("target", target), ("accept", accept)) if v})
        if size_bytes is not None:
            request["size_bytes"] = size_bytes
        response = self.request("POST", "/v1/jobs", json.dumps(request).encode(), {"Content-Type": "application/json"})
        created: dict[str, Any] = json.loads(response.data)
        return created

    def job(self, job_id: str) -> dict[str, Any]:
        view: dict[str, Any] = json.loads(self.request("GET", f"/v1/jobs/{quote(job_id)}").data)
        return view

    # --- rollouts ---------------------------------------------------------------------------

    def rollouts(
        self, endpoint: str | None = None, phase: str | None = None, live: bool = False, limit: int = 25
    ) -> list[dict[str, Any]]:
        """All rollouts matching the filters (every page), newest first."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            query = {"limit": str(limit), "live": "true" if live else "false"}
            query.update({k: v for k, v in (("endpoint", endpoint), ("phase", phase), ("next_token", token)) if v})
            page = json.loads(self.request("GET", "/v1/rollouts?" + urlencode(query)).data)
            found += page["rollouts"]
            token = page.get("next_token")
            if not token:
                return sorted(found, key=lambda r: r["created_at"], reverse=True)

    def rollout(self, rollout_id: str) -> dict[str, Any]:
        view: dict[str, Any] = json.loads(self.request("GET", f"/v1/rollouts/{quote(rollout_id)}").data)
        return view

    def doctor(self, endpoint: str) -> dict[str, Any]:
        """GET /v1/endpoints/{endpoint}/doctor: the findings, the most severe first, and ``high``."""
        report: dict[str, Any] = json.loads(self.request("GET", f"/v1/endpoints/{quote(endpoint)}/doctor").data)
        return report

    def steer(self, rollout_id: str, action: str) -> dict[str, Any]:
        """pause | resume | promote | abort | approve (a rollout waiting at a manual gate)."""
        done: dict[str, Any] = json.loads(self.request("POST", f"/v1/rollouts/{quote(rollout_id)}/{action}").data)
        return done

    def versions(self, group: str) -> dict[str, Any]:
        """Where each version of ``group`` stands in this stack's environment (GET /v1/versions)."""
        view: dict[str, Any] = json.loads(self.request("GET", "/v1/versions?" + urlencode({"group": group})).data)
        return view

    def start_rollout(self, model_package_arn: str, target: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"model_package_arn": model_package_arn}
        if target:
            body["target"] = target
        response = self.request("POST", "/v1/rollouts", json.dumps(body).encode(), {"Content-Type": "application/json"})
        started: dict[str, Any] = json.loads(response.data)
        return started

    # --- one call for every size ------------------------------------------------------------

    def invoke(
        self,
        endpoint: str,
        payload: bytes | str | Path,
        content_type: str,
        *,
        accept: str | None = None,
        mode: str = "auto",
        split_type: str = "None",
        output: str | Path | None = None,
        progress: Progress | None = None,
    ) -> InvokeResult:
        """Predictions for ``payload`` (bytes, or a file path) from ``endpoint``'s model."""
        path = Path(payload) if isinstance(payload, str | Path) else None
        size = path.stat().st_size if path else len(payload)  # type: ignore[arg-type]
        if size <= self.realtime_limit and mode == "auto" and split_type == "None":
            data = path.read_bytes() if path else payload
            assert isinstance(data, bytes)
            try:
                return self._real_time(endpoint, data, content_type, accept, output)
            except ApiError as exc:
                if not takes_the_job_route(exc):
                    raise
        job = self.create_job(
            content_type, endpoint=endpoint, mode=mode, split_type=split_type, accept=accept, size_bytes=size
        )
        with path.open("rb") if path else io.BytesIO(payload) as source:  # type: ignore[arg-type]
            self._upload(job["upload"], source, size, progress)
        done = self.wait(job["job_id"], progress)
        if done["status"] != "SUCCEEDED":
            raise ApiError(500, f"job {job['job_id']} {done['status']}: {done.get('failure_reason')}", done)
        body, written = self._download(done["output"]["url"], output, progress)
        return InvokeResult(route=job["mode"], body=body, output_path=written, job_id=job["job_id"])

    def _real_time(
        self, endpoint: str, data: bytes, content_type: str, accept: str | None, output: str | Path | None
    ) -> InvokeResult:
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        response = self.request("POST", f"/v1/endpoints/{quote(endpoint)}/invocations", data, headers)
        written = None
        if output is not None:
            written = Path(output)
            written.write_bytes(response.data)
        return InvokeResult(
            route="real-time",
            body=None if written else response.data,
            output_path=written,
            content_type=response.headers.get("Content-Type"),
            variant=response.headers.get("X-Invoked-Variant"),
        )

    def _upload(self, upload: dict[str, Any], source: IO[bytes], size: int, progress: Progress | None) -> None:
        body = _Multipart(upload["fields"], source, size, progress)
        response = self._http.request(
            "POST",
            upload["url"],
            body=body,
            headers={
                "Content-Type": f"multipart/form-data; boundary={body.boundary}",
                "Content-Length": str(body.length),
            },
            preload_content=True,
            retries=False,  # a streamed body cannot be replayed
        )
        if response.status >= 300:
            raise ApiError(response.status, f"upload refused by S3: {response.data[:300].decode(errors='replace')}")

    def wait(self, job_id: str, progress: Progress | None = None) -> dict[str, Any]:
        """Poll the job with exponential backoff until it finishes (or poll_timeout)."""
        started, delay = time.monotonic(), 1.0
        while True:
            view = self.job(job_id)
            waited = int(time.monotonic() - started)
            if progress:
                progress(f"job {view['status'].lower()}", waited, None)
            if view["status"] in ("SUCCEEDED", "FAILED"):
                return view
            if waited > self.poll_timeout:
                raise ApiError(504, f"job {job_id} still {view['status']} after {waited}s", view)
            time.sleep(delay)
            delay = min(delay * 2, self.max_poll_interval)

    def _download(
        self, url: str, output: str | Path | None, progress: Progress | None
    ) -> tuple[bytes | None, Path | None]:
        response = self._http.request("GET", url, preload_content=False)
        try:
            if response.status >= 300:
                raise ApiError(response.status, "download refused by S3")
            total = int(response.headers.get("Content-Length") or 0) or None
            received = 0
            with Path(output).open("wb") if output else io.BytesIO() as sink:
                for block in response.stream(CHUNK):
                    sink.write(block)
                    received += len(block)
                    if progress:
                        progress("download", received, total)
                if output:
                    return None, Path(output)
                assert isinstance(sink, io.BytesIO)
                return sink.getvalue(), None
        finally:
            response.release_conn()


def takes_the_job_route(exc: ApiError) -> bool:
    """A real-time answer that the job route can give instead: the body is over the server's
    limit (413; its limit is lower than ours), or the model's answer is too large for the
    real-time route (502 ResponseTooLarge; async inference writes it to S3). Not a 504: the
    model may still be working on the first request."""
    return exc.status == 413 or (exc.status == 502 and exc.body.get("code") == "ResponseTooLarge")


def default_api_url() -> str | None:
    return os.environ.get("SAGEMAKER_ROLLOUT_API")


def netloc(url: str) -> str:
    return urlsplit(url).netloc
