"""``python -m sandbox serve``: the stack on a local moto server, with the API served over HTTP.

Point the client or the CLI at the printed URL. A moto server (not in-process mocking) backs
the stack so that presigned upload and download URLs work for any HTTP client. Time is the
wall clock; endpoint updates and jobs take a few seconds.

The API is guarded as API Gateway guards an ``AWS_IAM`` method: the SigV4 signature is checked
(sandbox/sigv4.py) against the test principals' keys (sandbox/gateway.py: a client, a viewer,
an operator, ...; the ready line lists them), and the route against the caller policy the
principal holds and the API's resource policy, both from template.yaml. A refusal is API
Gateway's 403; an allowed request reaches the function with the principal as its identity.
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

from .gateway import PRINCIPALS, Principal, refusal
from .sigv4 import verify
from .stack import Sandbox

LOCK = threading.RLock()  # moto is not thread-safe: one thing at a time
PUMP_LOG = logging.getLogger("sandbox.serve")
DEMO_TARGET: dict[str, Any] = {
    "model_package_group": "churn-model",
    "endpoint_name": "churn-endpoint",
    "instance_type": "ml.m5.large",
    # Seconds-long bakes on the wall clock: the canary analysis judges whole minutes of metrics
    # (it would hold every step for minutes), so the demo is judged by its alarm alone; the
    # built-in scenarios, on the simulated clock, exercise the analysis.
    "plan": {"steps": [50, 100], "bake_seconds": 5, "analysis": {"enabled": False}},
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

    def call(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str], principal: Principal
    ) -> dict[str, Any]:
        with LOCK:
            self.sandbox.now = datetime.now(UTC)
            return self.sandbox.api(method, path, body, headers, principal=principal)

    def has_route(self, method: str, path: str) -> bool:
        return any(r.matches(method, path.split("?", 1)[0]) for r in self.sandbox.api_routes)


def _handler(live: LiveSandbox) -> type[BaseHTTPRequestHandler]:
    class ApiHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if not live.has_route(self.command, self.path):
                # A path or method the API does not have: API Gateway's answer, signed or not.
                response = refusal("MissingAuthenticationTokenException", "Missing Authentication Token")
            else:
                url = f"http://{self.headers.get('Host', '')}{self.path}"
                signed = verify(self.command, url, lambda name: self.headers.get_all(name) or [], body or b"", now())
                if isinstance(signed, dict):  # API Gateway's 403: the request never reaches the API
                    response = signed
                else:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                    response = live.call(self.command, self.path, body, headers, signed)  # path and query
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


def now() -> datetime:
    return datetime.now(UTC)


def principals() -> dict[str, dict[str, Any]]:
    """The test principals a client may sign as: keys, ARN and the caller policies they hold."""
    return {
        p.name: {
            "access_key": p.access_key,
            "secret_key": p.secret_key,
            "arn": p.arn,
            "caller_policies": list(p.caller_policies),
            "own_policies": list(p.own_policies),
        }
        for p in PRINCIPALS
    }


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
                    "principals": principals(),
                }
            ),
            flush=True,
        )
        keys = {
            name: f"AWS_ACCESS_KEY_ID={p['access_key']} AWS_SECRET_ACCESS_KEY={p['secret_key']}"
            for name, p in principals().items()
        }
        print(
            f"sandbox API at {url} (Ctrl-C to stop); requests must be SigV4-signed as one of the "
            "principals above, e.g. as the inference client:\n"
            f"  {keys['inference-client']} SAGEMAKER_ROLLOUT_API={url} python -m rollout_client invoke "
            "churn-endpoint FILE --content-type text/csv\n"
            f"and as the rollout operator:\n"
            f"  {keys['rollout-operator']} SAGEMAKER_ROLLOUT_API={url} python -m rollout_client rollout list",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
