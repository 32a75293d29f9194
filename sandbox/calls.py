"""Every AWS call the product makes, seen through botocore's own event hooks (tests and benchmarks).

``hooks.install()`` adds handlers to botocore's BUILTIN_HANDLERS, so every client created
afterwards (the functions' own clients included) reports to the listeners subscribed here:

- ``on_call(call)``: a real API call is about to be made (``before-call``), once per call;
- ``on_send(call, attempt)``: an HTTP attempt is about to be sent (``before-send``, registered
  *before* moto's stubber); returning an ``AWSResponse`` answers it instead of moto (which then
  does not see the request at all), so the client's real retry logic and error parsing run on
  it (fault injection);
- ``on_result(call)``: the call returned (``after-call``, success or error response), with
  ``call.status`` and ``call.error_code`` set; raising here is "the process died right
  after the call";
- ``on_presign(call)``: a presigned URL or POST was made (no API call, but the signer's
  role must allow the action when the URL is used);
- ``on_exit()`` (optional): a forked process is about to end with ``os._exit`` (the fault
  matrix's faulted runs), so a listener can save what it saw there (``hooks.exiting()``).

Each ``Call`` carries the sandbox function that made it (``sandbox.stack.CURRENT_FUNCTION``),
or None for calls of the tests themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from botocore.awsrequest import AWSResponse
from botocore.handlers import BUILTIN_HANDLERS

from .stack import CURRENT_FUNCTION

# Service prefixes of IAM actions that differ from the service's signing name.
IAM_PREFIX = {"monitoring": "cloudwatch"}
_KEY = "sandbox_call"
ANSWERED = "sandbox_answered"  # request.context: a before-send hook answered it, moto must not


@dataclass
class Call:
    function: str | None  # the sandbox function that made it; None: test or harness code
    service: str  # botocore service name, e.g. "sagemaker-runtime"
    iam_prefix: str  # e.g. "sagemaker" (sagemaker-runtime InvokeEndpoint is sagemaker:InvokeEndpoint)
    operation: str  # e.g. "InvokeEndpoint"
    params: dict[str, Any]
    presigned: bool = False
    protocol: str = "json"  # the wire protocol the client speaks (for made-up error responses)
    url: str = ""  # of the last attempt
    retries: dict[str, Any] | None = None  # the client's botocore retry settings
    attempts: int = 0
    status: int | None = None
    error_code: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # listeners' notes (e.g. an injected fault)

    @property
    def action(self) -> str:
        return f"{self.iam_prefix}:{self.operation}"

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 300


class Listener(Protocol):
    def on_call(self, call: Call) -> None: ...
    def on_send(self, call: Call, attempt: int) -> AWSResponse | None: ...
    def on_result(self, call: Call) -> None: ...
    def on_presign(self, call: Call) -> None: ...


L = TypeVar("L", bound=Listener)


class BaseListener:
    """Does nothing; subclass and override what you need."""

    def on_call(self, call: Call) -> None:
        return None

    def on_send(self, call: Call, attempt: int) -> AWSResponse | None:
        return None

    def on_result(self, call: Call) -> None:
        return None

    def on_presign(self, call: Call) -> None:
        return None


def _prefix(model: Any) -> str:
    service_model = model.service_model
    name = str(service_model.signing_name or service_model.endpoint_prefix)
    return IAM_PREFIX.get(name, name)


class CallHooks:
    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self._installed = False

    # --- installing -----------------------------------------------------------------------

    def install(self) -> CallHooks:
        """Idempotent. Clients created before this call are not seen."""
        if not self._installed:
            skip_answered_requests()
            BUILTIN_HANDLERS.insert(0, ("before-send", self._before_send))  # ahead of moto's stubber
            BUILTIN_HANDLERS.append(("before-parameter-build", self._before_parameter_build))
            BUILTIN_HANDLERS.append(("before-call", self._before_call))
            BUILTIN_HANDLERS.append(("after-call", self._after_call))
            BUILTIN_HANDLERS.append(("before-sign.s3.PutObject", self._before_sign_post))
            self._installed = True
        return self

    def subscribe(self, listener: L) -> L:
        self.install()
        self.listeners.append(listener)
        return listener

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def exiting(self) -> None:
        """This (forked) process ends now, without atexit handlers: listeners save their records."""
        for listener in list(self.listeners):
            on_exit = getattr(listener, "on_exit", None)
            if on_exit is not None:
                on_exit()

    # --- botocore handlers ----------------------------------------------------------------

    def _before_parameter_build(self, params: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
        if context is None or model is None:
            return
        call = Call(
            function=CURRENT_FUNCTION.get(),
            service=model.service_model.service_name,
            iam_prefix=_prefix(model),
            operation=model.name,
            params=_plain(params),
            protocol=getattr(model.service_model, "resolved_protocol", None) or model.service_model.protocol,
        )
        config = context.get("client_config")
        if config is not None:
            call.retries = dict(config.retries or {})
        if context.get("is_presign_request"):
            if model.name != "CreateBucket":  # a presigned POST is seen at signing (it knows the key)
                call.presigned = True
                for listener in list(self.listeners):
                    listener.on_presign(call)
            return
        context[_KEY] = call

    def _before_call(self, context: Any = None, **_: Any) -> None:
        call = (context or {}).get(_KEY)
        if call is not None:
            for listener in list(self.listeners):
                listener.on_call(call)

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        call = (getattr(request, "context", None) or {}).get(_KEY)
        if call is None:
            return None
        call.attempts += 1
        call.url = str(request.url)
        for listener in list(self.listeners):
            response = listener.on_send(call, call.attempts)
            if response is not None:
                # botocore still calls every before-send handler (it keeps the first answer):
                # moto's stubber skips a request marked answered (see skip_answered_requests).
                request.context[ANSWERED] = True
                return response
        return None

    def _after_call(self, http_response: Any, parsed: Any, context: Any = None, **_: Any) -> None:
        call = (context or {}).get(_KEY)
        if call is None:
            return
        call.status = int(http_response.status_code)
        if call.status >= 300:
            call.error_code = str((parsed or {}).get("Error", {}).get("Code", ""))
        for listener in list(self.listeners):
            listener.on_result(call)

    def _before_sign_post(self, request: Any, **_: Any) -> None:
        fields = (getattr(request, "context", None) or {}).get("s3-presign-post-fields")
        if fields is None:
            return
        bucket = request.url.split("//", 1)[-1].split(".", 1)[0] if "://" in request.url else ""
        path = request.url.split("://", 1)[-1].split("/", 1)
        if len(path) > 1 and path[1]:  # path-style URL: https://s3.../bucket/
            bucket = path[1].strip("/").split("/")[0]
        call = Call(
            function=CURRENT_FUNCTION.get(),
            service="s3",
            iam_prefix="s3",
            operation="PutObject",
            params={"Bucket": bucket, "Key": fields.get("key", "")},
            presigned=True,
        )
        for listener in list(self.listeners):
            listener.on_presign(call)


def skip_answered_requests() -> None:
    """Make moto's stubber leave alone a request a before-send hook has answered (marked with
    ``request.context[ANSWERED]``). Per request, not by turning the stubber off: the controller
    makes calls from several threads at once, and the others must still reach moto. Idempotent."""
    from moto.core.botocore_stubber import BotocoreStubber

    if getattr(BotocoreStubber.__call__, "_skips_answered", False):
        return
    original = BotocoreStubber.__call__

    def __call__(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        if (getattr(request, "context", None) or {}).get(ANSWERED):
            return None
        return original(self, event_name, request, **kwargs)

    __call__._skips_answered = True  # type: ignore[attr-defined]
    BotocoreStubber.__call__ = __call__  # type: ignore[method-assign]


def _plain(params: Any) -> Any:
    """A JSON-safe copy of API parameters (streams and bytes become their length)."""
    if isinstance(params, dict):
        return {k: _plain(v) for k, v in params.items()}
    if isinstance(params, list | tuple):
        return [_plain(v) for v in params]
    if isinstance(params, str | int | float | bool) or params is None:
        return params
    if isinstance(params, bytes | bytearray):
        return f"<{len(params)} bytes>"
    return f"<{type(params).__name__}>"


hooks = CallHooks()


# --- error responses, as each protocol's service would send them ---------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_: Any) -> bytes:
        body, self._body = self._body, b""
        return body


def error_response(call: Call, status: int, code: str, message: str) -> AWSResponse:
    """An HTTP error response to ``call`` for ``code``, in the wire format of its service."""
    model_protocol, url = call.protocol, call.url
    headers: dict[str, str] = {"x-amzn-RequestId": "00000000-0000-0000-0000-000000000000"}
    if model_protocol in ("json", "rest-json"):
        headers["Content-Type"] = "application/x-amz-json-1.1"
        headers["x-amzn-ErrorType"] = code
        body = json.dumps({"__type": code, "message": message}).encode()
    elif model_protocol == "query":
        headers["Content-Type"] = "text/xml"
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
            "</Error><RequestId>0</RequestId></ErrorResponse>"
        ).encode()
    elif model_protocol == "rest-xml":
        headers["Content-Type"] = "application/xml"
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>0</RequestId></Error>".encode()
    else:  # pragma: no cover - no client of the product speaks it yet (CloudWatch resolves to json)
        raise NotImplementedError(f"error responses in {model_protocol}")
    return AWSResponse(url, status, headers, _Raw(body))  # type: ignore[arg-type]
