"""``python -m sandbox serve``: the stack on a local moto server, with the API served over HTTP.

Point the client or the CLI at the printed URL. A moto server (not in-process mocking) backs
the stack so that presigned upload and download URLs work for any HTTP client. Time is the
wall clock; endpoint updates and jobs take a few seconds. The API checks that requests are
SigV4-signed (an ``AWS4-HMAC-SHA256`` Authorization header) but not the signature itself.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from moto.server import ThreadedMotoServer

from rollout_core.models import Target

from .stack import Sandbox

LOCK = threading.RLock()  # moto is not thread-safe: one thing at a time
PUMP_LOG = logging.getLogger("sandbox.serve")
DEMO_TARGET: dict[str, Any] = {
    "model_package_group": "churn-model",
    "endpoint_name": "churn-endpoint",
    "instance_type": "ml.m5.large",
    "plan": {"steps": [50, 100], "bake_seconds": 5},
    "guard_alarms": ["sagemaker-rollout-churn-5xx"],
    "inference": {"async_endpoint_name": "churn-endpoint-async", "job_timeout_seconds": 600},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveSandbox:
    """The sandbox on the wall clock, pumped by a background thread."""

    def __init__(self, realtime_limit: int | None = None) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the moto server's request log
        self.moto_port = free_port()
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        if realtime_limit is not None:
            os.environ["REALTIME_LIMIT_BYTES"] = str(realtime_limit)
        self.sandbox = Sandbox(
            update_seconds=2,
            work_seconds=2,
            server_url=f"http://127.0.0.1:{self.moto_port}",
            parameters={"EndpointName": DEMO_TARGET["endpoint_name"], "ModelPackageGroupName": "churn-model"},
        )
        self._stop = threading.Event()
        self.package_arn = ""
        self._pump: threading.Thread | None = None

    def __enter__(self) -> LiveSandbox:
        self.moto.start()
        self.sandbox.now = datetime.now(UTC)
        self.sandbox.__enter__()
        self.sandbox.now = datetime.now(UTC)
        target = Target.model_validate(DEMO_TARGET)
        self.sandbox.put_target(target.model_dump_json(), target.model_package_group)
        for alarm in target.guard_alarms:
            self.sandbox.create_alarm(alarm)
        with LOCK:
            self.package_arn = self.sandbox.register_package("churn-model")
            self.sandbox.set_approval(self.package_arn, "Approved")
        self._pump = threading.Thread(target=self._run, daemon=True)
        self._pump.start()
        deadline = time.monotonic() + 60
        while self.sandbox.endpoint_status("churn-endpoint-async") != "InService":
            if time.monotonic() > deadline:
                raise RuntimeError("the demo endpoints did not come up")
            time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._pump:
            self._pump.join(timeout=5)
        self.sandbox.__exit__(*exc)
        self.moto.stop()

    def _run(self) -> None:
        last_tick = 0.0
        while not self._stop.is_set():
            with LOCK:
                try:
                    self.sandbox.now = datetime.now(UTC)
                    self.sandbox.simulator.advance()
                    self.sandbox.jobs.advance()
                    self.sandbox.deliver_endpoint_events()
                    if time.monotonic() - last_tick >= 5:  # the schedules, faster than in AWS
                        self.sandbox.tick()
                        self.sandbox.tick("JobSweep")
                        last_tick = time.monotonic()
                except Exception:
                    # One failed round must not stop the sandbox's clock for good (endpoints
                    # and jobs would stay where they are while the API still answers).
                    PUMP_LOG.exception("sandbox pump round failed; the next round goes on")
            self._stop.wait(0.2)

    def call(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> dict[str, Any]:
        with LOCK:
            self.sandbox.now = datetime.now(UTC)
            return self.sandbox.api(method, path, body, headers)


def _handler(live: LiveSandbox) -> type[BaseHTTPRequestHandler]:
    class ApiHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if not str(self.headers.get("Authorization", "")).startswith("AWS4-HMAC-SHA256"):
                # What API Gateway answers an unsigned request on an AWS_IAM route.
                self._send(403, {"Content-Type": "application/json"}, b'{"message": "Missing Authentication Token"}')
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            response = live.call(self.command, self.path, body, headers)  # path and query
            raw = response.get("body") or ""
            data = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
            out = {k: v[0] for k, v in (response.get("multiValueHeaders") or {}).items()}
            out.update(response.get("headers") or {})
            self._send(int(response["statusCode"]), out, data)

        def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    return ApiHandler


@contextmanager
def serving(port: int = 0, realtime_limit: int | None = None) -> Iterator[tuple[str, LiveSandbox]]:
    """The live sandbox and its API URL, for as long as the context lasts."""
    with LiveSandbox(realtime_limit) as live:
        server = ThreadingHTTPServer(("127.0.0.1", port), _handler(live))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}", live
        finally:
            server.shutdown()


def main(port: int, realtime_limit: int | None) -> int:
    with serving(port, realtime_limit) as (url, live):
        print(
            json.dumps(
                {
                    "api": url,
                    "moto": live.sandbox.server_url,
                    "endpoint": "churn-endpoint",
                    "async_endpoint": "churn-endpoint-async",
                    "target": "churn-model",
                    "approved_package": live.package_arn,
                }
            ),
            flush=True,
        )
        print(
            f"sandbox API at {url} (Ctrl-C to stop); e.g.\n"
            f"  SAGEMAKER_ROLLOUT_API={url} python -m rollout_client invoke churn-endpoint FILE "
            "--content-type text/csv",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
