"""What moto lacks for the job path, added as AWS documents it (sandbox and tests only).

- InvokeEndpoint: moto answers any endpoint name with canned data and decodes the body as
  UTF-8 (a binary body crashes it). SageMaker takes any bytes, refuses an
  endpoint that does not exist or is not InService (ValidationError), picks a production
  variant by weight, or the one named by ``TargetVariant`` ("overrides the default behavior
  for the endpoint, which is to distribute the invocation traffic based on the variant
  weights"; a variant the endpoint does not have is a ValidationError), and reports a
  container failure as ModelError. Each call counts in the variant's per-minute metrics
  (``on_invoke``: sandbox/traffic_ext.py).
- InvokeEndpointAsync: moto writes a canned object into a random bucket. SageMaker reads
  the input from S3, writes the result to the endpoint config's S3OutputPath as <uuid>.out
  (or the error to S3FailurePath) and publishes the documented notification to the
  success or error topic of the endpoint config.
- CreateTransformJob: moto marks the job Completed at once. SageMaker runs it (InProgress),
  and announces each status change as "SageMaker Transform Job State Change". For every
  input object under the S3 prefix it writes <name>.out under S3OutputPath (in the object's
  subfolder below the prefix; "Use batch transform to run inference with Amazon SageMaker
  AI"): the object is split into records by TransformInput.SplitType (None: the whole object
  is one record; Line: newline boundaries; RecordIO: MXNet RecordIO records; TFRecord:
  TFRecord records), each record gets one prediction from the same model as real-time and
  async inference (sandbox/records.py), and the predictions are assembled by
  TransformOutput.AssembleWith (Line: a newline after every record; None: concatenated).
  CreateTransformJob with no object under the input prefix is refused at once
  (ValidationException "No S3 objects found under S3 URL ... given in input data source").
  A record larger than MaxPayloadInMB fails the job ("The value in MaxPayloadInMB must be
  greater than, or equal to, the size of a single record"), as does an object that is not in
  the split format (the docs say nothing of that case: the stricter answer).
- What SageMaker does *as the execution role* (reading inputs, writing outputs, publishing
  async results) is kept in ``role_calls`` as IAM (action, resource, condition keys), so tests
  can check the policy the stack hands to that role (tests/security/test_iam_coverage.py).
- S3 "Object Created" to EventBridge: moto sends it to moto's own rules; here it is captured
  so the sandbox can deliver it through the template's rules.
- Presigned POST uploads: moto stores any size; S3 refuses a file outside the policy's
  content-length-range (EntityTooSmall / EntityTooLarge).
- Test notifications: after CreateEndpoint, UpdateEndpoint and every
  UpdateEndpointWeightsAndCapacities of an endpoint whose config has AsyncInferenceConfig,
  SageMaker publishes ``{"eventVersion":"1.0","eventSource":"aws:sagemaker","eventName":
  "TestNotification"}`` to its success and error topics ("Create Endpoint", SageMaker
  asynchronous inference guide). ``announce_test_notification`` does it; the sandbox calls it
  from the endpoint simulator when such a call is accepted (sandbox/sagemaker_ext.py).

The simulated work completes when ``JobsSimulator.advance()`` finds it due by the clock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import moto.s3.notifications as s3_notifications
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.s3.models import s3_backends
from moto.s3.responses import S3Response
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.models import SageMakerRuntimeBackend
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from .envelope import envelope
from .records import RecordFormatError, assemble, predict, split_records

_MISSING = object()  # a patched name moto does not have (removed again on uninstall)


class RuntimeValidationError(ServiceException):
    code = "ValidationError"


class RuntimeError_(ServiceException):
    """Any other InvokeEndpoint error, by code (ThrottlingException, ServiceUnavailable, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


class ModelError(ServiceException):
    """InvokeEndpoint's ModelError, with the container's status and message."""

    code = "ModelError"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.OriginalStatusCode = status
        self.OriginalMessage = message
        self.LogStreamArn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/sandbox"


@dataclass
class _Work:
    due: datetime
    kind: str  # "async" | "transform"
    data: dict[str, Any]


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


# (IAM action, resource ARN, condition keys) of a call SageMaker makes as the execution role.
RoleCall = tuple[str, str, tuple[tuple[str, str], ...]]


class JobsSimulator:
    """Async inference, batch transform and S3 notifications on top of moto."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC), work_seconds: float = 60) -> None:
        self.clock = clock
        self.work_seconds = work_seconds
        self.work: list[_Work] = []
        self.outbox: list[dict[str, Any]] = []  # EventBridge events and SNS deliveries
        self.model_errors: dict[str, tuple[int, str]] = {}  # endpoint -> (status, message) of every call
        # (endpoint, variant) -> (status, message): that variant's container fails every request
        self.failing_variants: dict[tuple[str, str], tuple[int, str]] = {}
        self.on_invoke: list[Callable[[str, str, int], None]] = []  # (endpoint, variant, status) of each call
        self.fail_next_async: dict[str, str] = {}  # async endpoint -> failure reason
        self.fail_next_transform: str | None = None
        self.invocations: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []  # headers of each InvokeEndpoint request
        self.errors_next: list[ServiceException] = []  # raised by the next InvokeEndpoint calls
        self.role_calls: list[RoleCall] = []  # what SageMaker did as the execution role
        self.stopped: list[str] = []  # transform jobs stopped with StopTransformJob
        self.test_notifications: list[tuple[str, str]] = []  # (endpoint, topic ARN) of each one sent
        self.async_requests: list[dict[str, Any]] = []  # what each accepted InvokeEndpointAsync asked
        self._saved: dict[tuple[Any, str], Any] = {}

    # --- installing ---------------------------------------------------------------------

    def install(self) -> JobsSimulator:
        sim = self
        patches: list[tuple[Any, str, Any]] = [
            (SageMakerRuntimeResponse, "invoke_endpoint", lambda r: sim._invoke_response(r)),
            # Request bodies are bytes (images, protobuf...): moto would decode them as UTF-8.
            (SageMakerRuntimeResponse, "use_raw_body", True),
            (SageMakerRuntimeResponse, "invoke_endpoint_async", lambda r: sim._invoke_async_response(r)),
            (SageMakerModelBackend, "create_transform_job", lambda b, **kw: sim._create_transform_job(b, **kw)),
            (SageMakerResponse, "stop_transform_job", lambda r: sim._stop_transform_job(r)),
            (
                s3_notifications,
                "_send_event_bridge_message",
                lambda account_id, bucket, event_name, key: sim._s3_event(account_id, bucket, event_name, key),
            ),
            (S3Response, "_bucket_response_post", lambda r, request, bucket: sim._post_upload(r, request, bucket)),
        ]
        for owner, name, fn in patches:
            self._saved[(owner, name)] = getattr(owner, name, _MISSING)
            setattr(owner, name, fn)
        return self

    def uninstall(self) -> None:
        for (owner, name), original in self._saved.items():
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._saved.clear()

    def drain(self) -> list[dict[str, Any]]:
        events, self.outbox = self.outbox, []
        return events

    # --- real-time ------------------------------------------------------------------------

    def _endpoint(self, runtime: SageMakerRuntimeBackend, name: str) -> Any:
        endpoint = sagemaker_backends[runtime.account_id][runtime.region_name].endpoints.get(name)
        if endpoint is None or endpoint.endpoint_status not in ("InService", "Updating"):
            raise RuntimeValidationError(f"Endpoint {name} of account {runtime.account_id} not found.")
        return endpoint

    def _invoke_response(self, response: SageMakerRuntimeResponse) -> tuple[int, dict[str, str], str]:
        # The endpoint name is in the request path (rest-json), where moto does not look.
        endpoint_name = response.path.split("/")[2]
        self.requests.append(
            {
                "endpoint": endpoint_name,
                "content_type": response.headers.get("Content-Type"),
                "accept": response.headers.get("Accept"),
                "target_variant": response.headers.get("X-Amzn-SageMaker-Target-Variant"),
            }
        )
        if self.errors_next:
            raise self.errors_next.pop(0)
        body, content_type, variant, _ = self._invoke(
            response.sagemakerruntime_backend,
            endpoint_name,
            response.body or b"",
            response.headers.get("X-Amzn-SageMaker-Target-Variant"),
        )
        headers = {"Content-Type": content_type, "x-Amzn-Invoked-Production-Variant": variant}
        return 200, headers, body

    def _invoke(
        self, runtime: SageMakerRuntimeBackend, endpoint_name: str, body: bytes | str, target: str | None = None
    ) -> tuple[str, str, str, str]:
        endpoint = self._endpoint(runtime, endpoint_name)
        self.invocations.append({"endpoint": endpoint_name, "bytes": len(body), "target_variant": target})
        variants = [(v["VariantName"], float(v.get("CurrentWeight", 0.0))) for v in endpoint.production_variants]
        if target is not None:
            if target not in {name for name, _ in variants}:
                raise RuntimeValidationError(
                    f"The variant {target} specified in TargetVariant is not present in endpoint {endpoint_name}."
                )
            chosen = target
        else:
            total = sum(w for _, w in variants) or 1.0
            point = int(hashlib.sha256(str(body).encode()).hexdigest(), 16) % 10_000 / 10_000 * total
            chosen = variants[-1][0]
            for name, weight in variants:
                if point < weight:
                    chosen = name
                    break
                point -= weight
        failure = self.model_errors.get(endpoint_name) or self.failing_variants.get((endpoint_name, chosen))
        for hook in self.on_invoke:
            hook(endpoint_name, chosen, failure[0] if failure else 200)
        if failure is not None:
            status, message = failure
            raise ModelError(message, status)
        prediction = json.dumps({"prediction": predict(body), "variant": chosen})
        return prediction, "application/json", chosen, ""

    # --- async ----------------------------------------------------------------------------

    def _invoke_async_response(self, response: SageMakerRuntimeResponse) -> tuple[int, dict[str, str], str]:
        # moto's backend method does not receive the InferenceId header: read it here.
        endpoint_name = response.path.split("/")[2]
        input_location = str(response.headers.get("X-Amzn-SageMaker-InputLocation"))
        inference_id = str(response.headers.get("X-Amzn-SageMaker-Inference-Id") or uuid.uuid4())
        # The request's expiry (InvokeEndpointAsync API reference): processing 1-3600 s (default
        # 900), queue 60-21600 s (default 21600); SageMaker refuses values outside them.
        timeout = int(response.headers.get("X-Amzn-SageMaker-InvocationTimeoutSeconds") or 900)
        ttl = int(response.headers.get("X-Amzn-SageMaker-RequestTTLSeconds") or 21600)
        if not (1 <= timeout <= 3600 and 60 <= ttl <= 21600):
            raise RuntimeValidationError(
                f"InvocationTimeoutSeconds {timeout} must be 1-3600 and RequestTTLSeconds {ttl} 60-21600."
            )
        self.async_requests.append(
            {"endpoint": endpoint_name, "inference_id": inference_id, "invocation_timeout": timeout, "ttl": ttl}
        )
        output, failure = self._invoke_async(
            response.sagemakerruntime_backend, endpoint_name, input_location, inference_id
        )
        headers = {"X-Amzn-SageMaker-OutputLocation": output, "X-Amzn-SageMaker-FailureLocation": failure}
        return 200, headers, json.dumps({"InferenceId": inference_id})

    def _invoke_async(
        self, runtime: SageMakerRuntimeBackend, endpoint_name: str, input_location: str, inference_id: str
    ) -> tuple[str, str]:
        endpoint = self._endpoint(runtime, endpoint_name)
        sm = sagemaker_backends[runtime.account_id][runtime.region_name]
        config = sm.endpoint_configs[endpoint.endpoint_config_name]
        output = (config.async_inference_config or {}).get("OutputConfig")
        if not output:
            raise RuntimeValidationError(f"Endpoint {endpoint_name} is not configured for asynchronous inference.")
        name = f"{uuid.uuid4()}"
        output_location = f"{output['S3OutputPath']}{name}.out"
        failure_location = f"{output.get('S3FailurePath', output['S3OutputPath'])}{name}-error.out"
        self.work.append(
            _Work(
                self.clock() + timedelta(seconds=self.work_seconds),
                "async",
                {
                    "account": runtime.account_id,
                    "region": runtime.region_name,
                    "endpoint": endpoint_name,
                    "input": input_location,
                    "output": output_location,
                    "failure": failure_location,
                    "topics": output.get("NotificationConfig", {}),
                    "inference_id": inference_id,
                    "fail": self.fail_next_async.pop(endpoint_name, None),
                    "received": self.clock(),
                },
            )
        )
        return output_location, failure_location

    def announce_test_notification(self, backend: SageMakerModelBackend, endpoint_name: str, config_name: str) -> None:
        """SageMaker accepted a Create/UpdateEndpoint or UpdateEndpointWeightsAndCapacities of
        ``endpoint_name`` (moving to ``config_name``): if that config is for async inference,
        publish the test notification to its success and error topics, as SageMaker does to
        check its permissions. Real-time configs get none."""
        config = backend.endpoint_configs.get(config_name)
        output = ((config.async_inference_config if config else None) or {}).get("OutputConfig") or {}
        topics = output.get("NotificationConfig") or {}
        message = json.dumps({"eventVersion": "1.0", "eventSource": "aws:sagemaker", "eventName": "TestNotification"})
        for key in ("SuccessTopic", "ErrorTopic"):
            if topics.get(key):
                self.test_notifications.append((endpoint_name, topics[key]))
                self.outbox.append(_sns_delivery(topics[key], message, self.clock()))

    # --- batch transform ------------------------------------------------------------------

    def _create_transform_job(self, backend: SageMakerModelBackend, **kwargs: Any) -> Any:
        name = kwargs["transform_job_name"]
        if name in backend.transform_jobs:
            raise RuntimeValidationError(
                "Job name must be unique within an AWS account and region, "
                f"and a job with this name already exists ({name})"
            )
        if kwargs["model_name"] not in backend._models:
            raise RuntimeValidationError(f'Could not find model "{kwargs["model_name"]}".')
        uri = kwargs["transform_input"]["DataSource"]["S3DataSource"]["S3Uri"]
        bucket, prefix = _split(uri)
        s3 = s3_backends[backend.account_id]["aws"]
        if bucket not in s3.buckets or not any(k.startswith(prefix) for k in s3.get_bucket(bucket).keys):
            # SageMaker refuses the create itself with a ValidationException. The CreateTransformJob
            # API reference does not list this case; the message is AWS's own answer as users
            # report it (aws/amazon-sagemaker-examples#2414): the stricter behaviour.
            raise ValidationError(
                message=f'No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure that '
                f"the bucket exists in the selected region ({backend.region_name}), that objects exist under "
                f'that S3 prefix, and that the role "{kwargs.get("role_arn", "")}" has "s3:ListBucket" '
                f'permissions on bucket "{bucket}".'
            )
        job = self._saved[(SageMakerModelBackend, "create_transform_job")](backend, **kwargs)
        job.transform_job_status = "InProgress"
        self.work.append(
            _Work(
                self.clock() + timedelta(seconds=self.work_seconds),
                "transform",
                {"backend": backend, "name": name, "fail": self.fail_next_transform},
            )
        )
        self.fail_next_transform = None
        self._transform_event(backend, job)
        return job

    def _stop_transform_job(self, response: SageMakerResponse) -> ActionResult:
        """StopTransformJob (moto has none). API reference: the status becomes Stopping, then
        Stopped once SageMaker has stopped the job, and no output is stored. A job that is not
        InProgress is refused (the docs are silent: the stricter reading)."""
        backend: SageMakerModelBackend = response.sagemaker_backend
        name = str(response._get_param("TransformJobName"))
        job = backend.transform_jobs.get(name)
        if job is None:
            raise RuntimeValidationError(f'Could not find transform job "{name}".')
        if job.transform_job_status != "InProgress":
            raise RuntimeValidationError(
                f"Transform job {name} is {job.transform_job_status}: only an InProgress job can be stopped."
            )
        self.work = [w for w in self.work if not (w.kind == "transform" and w.data["name"] == name)]
        job.transform_job_status = "Stopping"
        self._transform_event(backend, job)
        self.work.append(_Work(self.clock() + timedelta(seconds=60), "stop", {"backend": backend, "name": name}))
        self.stopped.append(name)
        return EmptyResult()

    def _finish_stop(self, data: dict[str, Any]) -> None:
        backend: SageMakerModelBackend = data["backend"]
        job = backend.transform_jobs[data["name"]]
        job.transform_job_status = "Stopped"
        self._transform_event(backend, job)

    # --- S3 -------------------------------------------------------------------------------

    def _post_upload(self, response: S3Response, request: Any, bucket_name: str) -> Any:
        """A browser-based POST upload (a presigned POST): S3 checks the file against the policy's
        content-length-range and refuses it with EntityTooSmall / EntityTooLarge (Amazon S3 API
        reference, "Creating a POST policy", Conditions); moto stores it whatever its size."""
        original = self._saved[(S3Response, "_bucket_response_post")]
        policy = (response.querystring.get("policy") or [None])[0]
        if policy and request.headers.get("Content-Length"):
            size = len(response.body or b"")
            for condition in json.loads(base64.b64decode(policy)).get("conditions", []):
                if isinstance(condition, list) and condition[0] == "content-length-range":
                    low, high = int(condition[1]), int(condition[2])
                    if not low <= size <= high:
                        code = "EntityTooLarge" if size > high else "EntityTooSmall"
                        body = (
                            f"<Error><Code>{code}</Code><Message>Your proposed upload is {size} bytes, outside the "
                            f"policy's content-length-range {low}-{high}</Message></Error>"
                        )
                        return 400, {"Content-Type": "application/xml"}, body
        return original(response, request, bucket_name)

    def _s3_event(self, account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        if not event_name.startswith("s3:ObjectCreated"):
            return
        detail = {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": {"key": key.name, "size": key.size, "etag": key.etag.strip('"'), "sequencer": "0"},
            "request-id": str(uuid.uuid4()),
            "requester": account_id,
            "source-ip-address": "127.0.0.1",
            "reason": {"Post": "POST Object"}.get(event_name.rsplit(":", maxsplit=1)[-1], "PutObject"),
        }
        resources = [f"arn:aws:s3:::{bucket.name}"]
        self.outbox.append(
            envelope("aws.s3", "Object Created", resources, detail, self.clock(), account_id, bucket.region_name)
        )

    # --- time -----------------------------------------------------------------------------

    def advance(self) -> None:
        now = self.clock()
        due = [w for w in self.work if w.due <= now]
        self.work = [w for w in self.work if w.due > now]
        for work in due:
            if work.kind == "async":
                self._finish_async(work.data)
            elif work.kind == "stop":
                self._finish_stop(work.data)
            else:
                self._finish_transform(work.data)

    def _finish_async(self, data: dict[str, Any]) -> None:
        s3 = s3_backends[data["account"]]["aws"]
        in_bucket, in_key = _split(data["input"])
        reason = data["fail"]
        stored = None
        self._role("s3:GetObject", _object_arn(in_bucket, in_key))
        try:
            stored = s3.get_object(in_bucket, in_key)
        except Exception:  # a missing input becomes the job's failure below
            stored = None
        size = 0 if stored is None else stored.size
        if stored is None:
            reason = reason or f"ClientError: could not read input {data['input']}"
        if reason:
            bucket, key = _split(data["failure"])
            self._role("s3:PutObject", _object_arn(bucket, key))
            s3.put_object(bucket, key, json.dumps({"error": reason}).encode())
            topic = data["topics"].get("ErrorTopic")
            message: dict[str, Any] = {"invocationStatus": "Failed", "failureReason": reason}
        else:
            bucket, key = _split(data["output"])
            self._role("s3:PutObject", _object_arn(bucket, key))
            body = stored.value if stored is not None else b""
            s3.put_object(bucket, key, json.dumps({"prediction": predict(body), "input_bytes": size}).encode())
            topic = data["topics"].get("SuccessTopic")
            message = {
                "invocationStatus": "Completed",
                "responseParameters": {"contentType": "application/json", "outputLocation": data["output"]},
            }
        message = {
            "awsRegion": data["region"],
            "eventTime": self.clock().strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "receivedTime": data["received"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            **message,
            "requestParameters": {"endpointName": data["endpoint"], "inputLocation": data["input"]},
            "inferenceId": data["inference_id"],
            "eventVersion": "1.0",
            "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult",
        }
        if topic:
            self._role("sns:Publish", topic)
            self.outbox.append(_sns_delivery(topic, json.dumps(message), self.clock()))

    def _role(self, action: str, resource: str, **conditions: str) -> None:
        self.role_calls.append((action, resource, tuple(sorted(conditions.items()))))

    def _finish_transform(self, data: dict[str, Any]) -> None:
        backend: SageMakerModelBackend = data["backend"]
        job = backend.transform_jobs[data["name"]]
        failure = data["fail"] or self._transform(backend, job)
        if failure:
            job.transform_job_status = "Failed"
            job.failure_reason = failure
        else:
            job.transform_job_status = "Completed"
        self._transform_event(backend, job)

    def _transform(self, backend: SageMakerModelBackend, job: Any) -> str | None:
        """Run the job over its input objects; the failure reason, or None."""
        s3 = s3_backends[backend.account_id]["aws"]
        source: Any = job.transform_input["DataSource"]
        in_bucket, prefix = _split(source["S3DataSource"]["S3Uri"])
        out_bucket, out_prefix = _split(job.transform_output["S3OutputPath"])
        split_type = str(job.transform_input.get("SplitType") or "None")
        assemble_with = str(job.transform_output.get("AssembleWith") or "None")
        limit = int(job.max_payload_in_mb or 6) * 1024 * 1024  # the API's default MaxPayloadInMB is 6
        folder = prefix[: prefix.rfind("/") + 1]
        self._role("s3:ListBucket", f"arn:aws:s3:::{in_bucket}", **{"s3:prefix": prefix})
        results: dict[str, bytes] = {}
        for key in sorted(k for k in s3.get_bucket(in_bucket).keys if k.startswith(prefix)):
            self._role("s3:GetObject", _object_arn(in_bucket, key))
            found = s3.get_object(in_bucket, key)
            try:
                records = split_records(b"" if found is None else found.value, split_type)
            except RecordFormatError as exc:
                return f"ClientError: {key} could not be split as {split_type}: {exc}"
            too_large = next((n for n, r in enumerate(records) if len(r) > limit), None)
            if too_large is not None:
                return (
                    f"ClientError: record {too_large + 1} of {key} is {len(records[too_large])} bytes, "
                    f"over MaxPayloadInMB ({limit // (1024 * 1024)} MB)"
                )
            predictions = [json.dumps({"prediction": predict(r)}).encode() for r in records]
            results[f"{out_prefix}{key[len(folder) :]}.out"] = assemble(predictions, assemble_with)
        for out_key, body in results.items():  # written once every object has been transformed
            self._role("s3:PutObject", _object_arn(out_bucket, out_key))
            s3.put_object(out_bucket, out_key, body)
        return None

    def _transform_event(self, backend: SageMakerModelBackend, job: Any) -> None:
        detail: dict[str, Any] = {
            "TransformJobName": job.transform_job_name,
            "TransformJobArn": job.arn,
            "TransformJobStatus": job.transform_job_status,
            "ModelName": job.model_name,
            "TransformInput": job.transform_input,
            "TransformOutput": job.transform_output,
            "TransformResources": job.transform_resources,
            "CreationTime": self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Tags": {},
        }
        if job.transform_job_status == "Failed":
            detail["FailureReason"] = job.failure_reason
        self.outbox.append(
            envelope(
                "aws.sagemaker",
                "SageMaker Transform Job State Change",
                [job.arn],
                detail,
                self.clock(),
                backend.account_id,
                backend.region_name,
            )
        )


def _object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _sns_delivery(topic_arn: str, message: str, at: datetime) -> dict[str, Any]:
    """The Lambda event of an SNS subscription ("Using AWS Lambda with Amazon SNS")."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:{uuid.uuid4()}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": topic_arn,
                    "Subject": None,
                    "Message": message,
                    "Timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "SignatureVersion": "1",
                    "Signature": "sandbox",
                    "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/sandbox.pem",
                    "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                    "MessageAttributes": {},
                },
            }
        ]
    }
