"""The stack on moto, in-process: resources from template.yaml, the real handlers, a simulated clock.

Events reach handlers the way EventBridge would deliver them: each event is matched against
the rule patterns declared in template.yaml and handed to the function the rule targets.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
from moto import mock_aws

from . import payload_limits
from . import template as tpl
from .alarms_ext import AlarmStates
from .autoscaling_ext import AutoscalingSimulator
from .cloudwatch_ext import MetricStore
from .envelope import envelope
from .gateway import ADMIN, API_ID, STAGE, Gateway, Principal, identity, refusal
from .jobs_ext import JobsSimulator
from .logs_ext import ContainerLogs
from .quotas_ext import InstanceQuotas
from .sagemaker_ext import EndpointSimulator
from .traffic_ext import TrafficSimulator

REGION = "us-east-1"
ACCOUNT = "123456789012"
TABLE = "sagemaker-rollout-sandbox"
TARGETS_PREFIX = "/sagemaker-rollout/sandbox/targets"
JOBS_BUCKET = "sagemaker-rollout-sandbox-jobs"
FUNCTIONS = {
    "ModelApprovalFunction": "model_approval",
    "RolloutControllerFunction": "rollout_controller",
    "InferenceApiFunction": "inference_api",
    "JobDispatcherFunction": "job_dispatcher",
    "AsyncResultsFunction": "async_results",
    "TransformJobEventsFunction": "transform_job_events",
    "RolloutApiFunction": "rollout_api",
}
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
STACK_NAME = "sagemaker-rollout-dev"  # the name the sample events in events/ carry

Handler = Callable[[dict[str, Any], Any], Any]

# The function the sandbox is running now: tests and benchmarks key the AWS calls they see by it
# (sandbox/calls.py). Set by every handler in Sandbox.handlers, whichever path invokes it.
CURRENT_FUNCTION: ContextVar[str | None] = ContextVar("sandbox_current_function", default=None)


def new_execution_environment() -> None:
    """Forget the clients and services the functions built (rollout_core.wiring's caches), as
    a new Lambda execution environment would."""
    from rollout_core import wiring

    for value in vars(wiring).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


def tracked(logical_id: str, handler: Handler) -> Handler:
    """``handler``, running as function ``logical_id`` (see CURRENT_FUNCTION)."""

    def run(event: dict[str, Any], context: Any) -> Any:
        token = CURRENT_FUNCTION.set(logical_id)
        try:
            return handler(event, context)
        finally:
            CURRENT_FUNCTION.reset(token)

    return run


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as ``context`` (the fields Powertools reads)."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


@dataclass
class Delivery:
    """One invocation of a function by an event, as the timeline shows it."""

    at: datetime
    function: str
    event: dict[str, Any]
    result: Any = None
    error: str | None = None


def sample_archive(files: dict[str, bytes]) -> bytes:
    """A .tar.gz holding ``files`` (name -> content), as a model package's sample payloads."""
    import io
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return out.getvalue()


def _load_handler(logical_id: str) -> ModuleType:
    path = tpl.ROOT / "functions" / FUNCTIONS[logical_id] / "app.py"
    spec = importlib.util.spec_from_file_location(f"functions_{FUNCTIONS[logical_id]}_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Sandbox:
    """The whole stack on moto. Use as a context manager."""

    def __init__(
        self,
        update_seconds: float = 120,
        parameters: dict[str, str] | None = None,
        deliver_each: int = 1,
        server_url: str | None = None,
        work_seconds: float = 60,
        lookup_seconds: float = 0,
        quotas: dict[str, int] | None = None,  # instance type -> endpoint quota (issue 17)
        rps: float = 20.0,
    ) -> None:
        self.now = START
        self.deliver_each = deliver_each  # >1: every event arrives that many times (at-least-once)
        self.template = tpl.load_template()
        self.parameters = {**tpl.parameter_defaults(self.template), **(parameters or {})}
        self.gateway = Gateway(self.template, self.parameters)  # the API's IAM authorization
        self.simulator = EndpointSimulator(
            clock=lambda: self.now, update_seconds=update_seconds, lookup_seconds=lookup_seconds
        )
        self.autoscaling = AutoscalingSimulator()
        self.quotas = InstanceQuotas(self.simulator, quotas)  # Service Quotas and their enforcement
        self.alarm_states = AlarmStates(clock=lambda: self.now)  # initial state, updates, notBreaching
        self.container_logs = ContainerLogs(self.simulator)  # endpoint containers' CloudWatch Logs
        self.jobs = JobsSimulator(clock=lambda: self.now, work_seconds=work_seconds)
        self._clients: dict[str, Any] = {}  # the sandbox's own clients (client())
        self.simulator.on_start.append(self.jobs.announce_test_notification)  # async test notifications
        # CloudWatch's metric data (percentiles included), and users' traffic on the real-time
        # endpoints with the per-variant metrics SageMaker publishes for it (``rps``; 0: none).
        self.metrics = MetricStore()
        self.traffic = TrafficSimulator(
            self.metrics,
            clock=lambda: self.now,
            rps=rps,
            failing=lambda endpoint, variant: (self.jobs.failing_variants.get((endpoint, variant)) or (None,))[0],
        )
        # What a call to a model takes, on the sandbox's stopwatch (rollout_core.clock.monotonic):
        # each InvokeEndpoint moves it on by the simulated latency, so timings are reproducible.
        self.stopwatch = 0.0
        self.sample_archives = 0  # sample payload archives put so far
        self.jobs.on_invoke.append(self._invoked)
        self.metrics.before_read.append(self.publish_traffic)  # the clock may have jumped
        # None: moto intercepts botocore in-process (mock_aws). A URL: a moto server there
        # (python -m sandbox serve), so presigned URLs work for real HTTP clients too.
        self.server_url = server_url
        self.deliveries: list[Delivery] = []
        self._mock = mock_aws()
        self._env: dict[str, str | None] = {}
        self.handlers: dict[str, Handler] = {}
        self.modules: dict[str, ModuleType] = {}  # each function's app module, as loaded
        self.role_arn = ""

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        from rollout_core import clock

        env = {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "TABLE_NAME": TABLE,
            "TARGETS_PREFIX": TARGETS_PREFIX,
            "JOBS_BUCKET": JOBS_BUCKET,
            # As the template sets it for the rollout controller (SamplePayloadBucket).
            "SAMPLE_PAYLOAD_BUCKET": self.parameters.get("SamplePayloadBucket", ""),
            "JOB_RETENTION_DAYS": self.parameters.get("JobRetentionDays", "7"),
            "ALARM_NAME_PREFIX": self.parameters.get("AlarmNamePrefix", ""),
            # As the template sets it for the inference API (ManagedEndpointPrefix or EndpointName).
            "MANAGED_ENDPOINT_PREFIX": self.parameters.get("ManagedEndpointPrefix")
            or self.parameters.get("EndpointName", ""),
            "POWERTOOLS_SERVICE_NAME": "sagemaker-rollout",
            "POWERTOOLS_METRICS_NAMESPACE": "SageMakerRollout",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("SANDBOX_LOG_LEVEL", "WARNING"),
        }
        if self.server_url:
            env["AWS_ENDPOINT_URL"] = self.server_url
        for key, value in env.items():
            self._env[key] = os.environ.get(key)
            os.environ[key] = value
        if not self.server_url:
            self._mock.start()
        self.simulator.install()
        self.autoscaling.install()
        self.quotas.install()
        self.alarm_states.install()
        self.container_logs.install()
        self.jobs.install()
        self.metrics.install()
        clock.set_source(lambda: self.now)
        clock.set_timer(lambda: self.stopwatch)
        sns = boto3.client("sns", region_name=REGION)
        topics = {
            "AsyncSuccessTopic": sns.create_topic(Name="sandbox-async-success")["TopicArn"],
            "AsyncErrorTopic": sns.create_topic(Name="sandbox-async-error")["TopicArn"],
            "NotificationsTopic": sns.create_topic(Name="sandbox-notifications")["TopicArn"],
        }
        for key, logical_id in (
            ("ASYNC_SUCCESS_TOPIC_ARN", "AsyncSuccessTopic"),
            ("ASYNC_ERROR_TOPIC_ARN", "AsyncErrorTopic"),
            ("NOTIFICATIONS_TOPIC_ARN", "NotificationsTopic"),
        ):
            self._env.setdefault(key, os.environ.get(key))
            os.environ[key] = topics[logical_id]
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=JOBS_BUCKET)
        if self.parameters.get("SamplePayloadBucket"):  # the users' bucket of sample payloads
            s3.create_bucket(Bucket=self.parameters["SamplePayloadBucket"])
        s3.put_bucket_notification_configuration(
            Bucket=JOBS_BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        pseudo = {"AWS::StackName": STACK_NAME, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
        self.routes = tpl.routes(self.template, {**self.parameters, **pseudo, **topics, "JobsBucket": JOBS_BUCKET})
        self.api_routes = tpl.api_routes(self.template)
        self._listen_for_notifications(sns)
        iam = boto3.client("iam", region_name=REGION)
        self.role_arn = iam.create_role(
            RoleName="sagemaker-execution", AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}'
        )["Role"]["Arn"]
        os.environ["SAGEMAKER_EXECUTION_ROLE_ARN"] = self.role_arn
        self._env.setdefault("SAGEMAKER_EXECUTION_ROLE_ARN", None)
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(**tpl.table_definition(self.template, "RolloutTable", TABLE))
        self.cold_start()
        return self

    def cold_start(self) -> None:
        """A new execution environment for every function: each app module is loaded again, and
        the clients and services they built (rollout_core.wiring's caches) are gone."""
        new_execution_environment()
        for logical_id in FUNCTIONS:
            module = _load_handler(logical_id)
            self.modules[logical_id] = module
            self.handlers[logical_id] = tracked(logical_id, module.lambda_handler)

    def __exit__(self, *exc: object) -> None:
        from rollout_core import clock

        clock.set_source(None)
        clock.set_timer(None)
        new_execution_environment()
        self.metrics.uninstall()
        self._clients.clear()
        self.jobs.uninstall()
        self.container_logs.uninstall()
        self.alarm_states.uninstall()
        self.quotas.uninstall()
        self.autoscaling.uninstall()
        self.simulator.uninstall()
        if not self.server_url:
            self._mock.stop()
        for key, value in self._env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    # --- clients --------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """The sandbox's own client for ``service`` (not the functions'), made once per sandbox:
        creating a boto3 client costs ~15 ms, and the scenarios ask for one at every observation
        (measured: 40 % of a scenario's time went into client creation)."""
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=REGION)  # type: ignore[call-overload]
        return self._clients[service]

    # --- delivering events ----------------------------------------------------------------

    def captured(self, action: Callable[[], object]) -> list[dict[str, Any]]:
        """The events ``action`` (a helper such as set_approval or tick) would deliver, kept
        instead: for tests and benchmarks that deliver them their own way."""
        events: list[dict[str, Any]] = []

        def keep(event: dict[str, Any]) -> list[Delivery]:
            events.append(event)
            return []

        self.deliver = keep  # type: ignore[method-assign]
        try:
            action()
        finally:
            del self.deliver
        return events

    def deliver(self, event: dict[str, Any]) -> list[Delivery]:
        """Hand ``event`` to every function whose rule in template.yaml matches it.

        Endpoint state changes the handlers cause are announced by SageMaker and delivered
        in turn, as EventBridge would, before this returns.
        """
        done: list[Delivery] = []
        queue = [event]
        while queue:
            current = queue.pop(0)
            for route in self.routes:
                if not route.matches(current):
                    continue
                for _ in range(self.deliver_each):
                    delivery = Delivery(at=self.now, function=route.function, event=current)
                    try:
                        delivery.result = self.handlers[route.function](current, LambdaContext(route.function))
                    except Exception as exc:  # the timeline shows it; EventBridge would retry
                        delivery.error = f"{type(exc).__name__}: {exc}"
                    self.deliveries.append(delivery)
                    done.append(delivery)
            queue += self.simulator.drain() + self.jobs.drain()
        return done

    def handler_errors(self) -> list[Delivery]:
        """The deliveries whose handler raised (EventBridge would retry them, then dead-letter)."""
        return [d for d in self.deliveries if d.error is not None]

    def deliver_endpoint_events(self) -> list[Delivery]:
        """Deliver what SageMaker and S3 announced (endpoint, job and upload events)."""
        done = []
        for event in self.simulator.drain() + self.jobs.drain():
            done += self.deliver(event)
        return done

    def evaluate_alarms(self) -> list[Delivery]:
        """CloudWatch evaluates the alarms that are due (sandbox/alarms_ext.py) and announces changes."""
        done = []
        for name in self.alarm_states.evaluate(ACCOUNT, REGION):  # no data, treated as not breaching
            done += self.set_alarm(name, "OK", "Threshold Crossed: no datapoints were received (not breaching)")
        return done

    def tick(self, rule: str = "RolloutTick") -> list[Delivery]:
        """A schedule rule fires (RolloutTick: the controller; JobSweep: the job sweep)."""
        rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK_NAME}-{rule}"
        return self.deliver(self._event("aws.events", "Scheduled Event", [rule_arn], {}))

    def advance(self, seconds: float, tick_every: float = 60) -> None:
        """Move the clock; endpoint transitions complete and the schedule fires on the way."""
        end = self.now + timedelta(seconds=seconds)
        while self.now < end:
            self.now = min(end, self.now + timedelta(seconds=tick_every))
            self.publish_traffic()
            self.simulator.advance()
            self.jobs.advance()
            self.deliver_endpoint_events()
            self.evaluate_alarms()
            self.tick()
            if int((self.now - START).total_seconds()) % 300 == 0:
                self.tick("JobSweep")  # rate(5 minutes)
            self.deliver_endpoint_events()

    def _invoked(self, endpoint: str, variant: str, status: int) -> None:
        self.stopwatch += self.traffic.record(endpoint, variant, status)

    def publish_traffic(self) -> None:
        """Users' requests of the minutes gone by, as per-variant metrics (before endpoints move on)."""
        from moto.sagemaker.models import sagemaker_backends

        self.traffic.advance(sagemaker_backends[ACCOUNT][REGION])

    # --- the model registry and alarms ----------------------------------------------------

    def register_package(self, group: str, samples: dict[str, bytes] | None = None) -> str:
        """Register a new model package version in ``group`` (PendingManualApproval).

        ``samples``: file name -> payload, put as the package's SamplePayloadUrl: "a single gzip
        compressed tar archive (.tar.gz suffix)" (DescribeModelPackage API reference), in the
        SamplePayloadBucket the sandbox was given."""
        sm = self.client("sagemaker")
        with contextlib.suppress(sm.exceptions.ClientError):  # the group exists already
            sm.create_model_package_group(ModelPackageGroupName=group)
        extra: dict[str, Any] = {}
        if samples is not None:
            bucket = self.parameters.get("SamplePayloadBucket")
            assert bucket, "sample payloads need the SamplePayloadBucket parameter"
            self.sample_archives += 1
            key = f"{group}/samples-{self.sample_archives}.tar.gz"
            self.client("s3").put_object(Bucket=bucket, Key=key, Body=sample_archive(samples))
            extra["SamplePayloadUrl"] = f"s3://{bucket}/{key}"
        arn: str = sm.create_model_package(
            **extra,
            ModelPackageGroupName=group,
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{group}:latest",
                        "ModelDataUrl": f"s3://models-{ACCOUNT}/{group}/model.tar.gz",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
                "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
            },
            ModelApprovalStatus="PendingManualApproval",
        )["ModelPackageArn"]
        return arn

    def set_approval(self, package_arn: str, status: str) -> list[Delivery]:
        """Change a package's approval; SageMaker announces it as documented."""
        self.client("sagemaker").update_model_package(ModelPackageArn=package_arn, ModelApprovalStatus=status)
        return self._announce_package(package_arn, ["ModelApprovalStatus"])

    def edit_package(self, package_arn: str, description: str) -> list[Delivery]:
        """Change a package's approval description: SageMaker announces every update of a package."""
        sm = self.client("sagemaker")
        # moto's UpdateModelPackage clears the approval status when the request leaves it out
        # (SageMaker keeps it): passed along unchanged here.
        status = sm.describe_model_package(ModelPackageName=package_arn)["ModelApprovalStatus"]
        sm.update_model_package(
            ModelPackageArn=package_arn, ModelApprovalStatus=status, ApprovalDescription=description
        )
        return self._announce_package(package_arn, ["ApprovalDescription"])

    def _announce_package(self, package_arn: str, changed: list[str]) -> list[Delivery]:
        sm = self.client("sagemaker")
        package = sm.describe_model_package(ModelPackageName=package_arn)
        status = package["ModelApprovalStatus"]
        detail = {
            "ModelPackageGroupName": package["ModelPackageGroupName"],
            "ModelPackageVersion": package["ModelPackageVersion"],
            "ModelPackageArn": package_arn,
            "CreationTime": package["CreationTime"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "InferenceSpecification": package.get("InferenceSpecification", {}),
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": status,
            "UpdatedModelPackageFields": changed,
            # The registry's time of this change: now, on the sandbox's clock.
            "LastModifiedTime": self.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        return self.deliver(self._event("aws.sagemaker", "SageMaker Model Package State Change", [package_arn], detail))

    def autoscale(self, endpoint_name: str, count: int) -> list[Delivery]:
        """Application Auto Scaling moves the serving variant to ``count`` instances (as it does:
        UpdateEndpointWeightsAndCapacities); SageMaker announces the change."""
        from moto.sagemaker.models import sagemaker_backends

        self.simulator.autoscale(sagemaker_backends[ACCOUNT][REGION], endpoint_name, count)
        return self.deliver_endpoint_events()

    def create_alarm(self, name: str) -> None:
        self.client("cloudwatch").put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/SageMaker",
            MetricName="Invocation5XXErrors",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        self.client("cloudwatch").set_alarm_state(AlarmName=name, StateValue="OK", StateReason="sandbox")
        self._stamp_alarm(name)

    def set_alarm(self, name: str, state: str, reason: str = "sandbox") -> list[Delivery]:
        """Set an alarm's state; CloudWatch announces the change as documented."""
        cw = self.client("cloudwatch")
        previous = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]
        cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)
        self._stamp_alarm(name)
        stamp = self.now.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        detail = {
            "alarmName": name,
            "state": {"value": state, "reason": reason, "timestamp": stamp},
            "previousState": {"value": previous, "reason": "", "timestamp": stamp},
            "configuration": {"metrics": []},
        }
        arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
        return self.deliver(self._event("aws.cloudwatch", "CloudWatch Alarm State Change", [arn], detail))

    def _stamp_alarm(self, name: str) -> None:
        """moto stamps a state change (StateUpdatedTimestamp) with the wall clock: the sandbox's
        alarms change on the simulated one."""
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[ACCOUNT][REGION].alarms[name].state_updated_timestamp = self.now

    def _event(self, source: str, detail_type: str, resources: list[str], detail: dict[str, Any]) -> dict[str, Any]:
        return envelope(source, detail_type, resources, detail, self.now, ACCOUNT, REGION)

    # --- targets and views ----------------------------------------------------------------

    def put_target(self, target_json: str, group: str) -> None:
        self.client("ssm").put_parameter(
            Name=f"{TARGETS_PREFIX}/{group}", Value=target_json, Type="String", Overwrite=True
        )

    def endpoint_weights(self, endpoint_name: str) -> dict[str, int] | None:
        """Percent of traffic per variant, or None when the endpoint does not exist."""
        from rollout_core.aws.sagemaker import SageMakerGateway

        gateway = SageMakerGateway(self.client("sagemaker"), self.role_arn)
        view = gateway.observe(endpoint_name)
        return None if view is None else view.percentages

    def endpoint_status(self, endpoint_name: str) -> str | None:
        """The endpoint's status, or None when it does not exist (any other error is raised)."""
        sm = self.client("sagemaker")
        try:
            return str(sm.describe_endpoint(EndpointName=endpoint_name)["EndpointStatus"])
        except sm.exceptions.ClientError as exc:
            # DescribeEndpoint's answer for a missing endpoint (the product's SageMakerGateway
            # reads it the same way): ValidationException "Could not find endpoint ...".
            error = exc.response.get("Error", {})
            if error.get("Code") == "ValidationException" and "could not find" in str(error.get("Message")).lower():
                return None
            raise

    def _listen_for_notifications(self, sns: Any) -> None:
        """SQS queues on the notifications topic and on a rule for our custom events, so what
        the stack announces can be read back (as a subscriber would)."""
        sqs = self.client("sqs")
        self.sns_queue = sqs.create_queue(QueueName="sandbox-notifications")["QueueUrl"]
        self.events_queue = sqs.create_queue(QueueName="sandbox-rollout-events")["QueueUrl"]
        sns_arn = sqs.get_queue_attributes(QueueUrl=self.sns_queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events_arn = sqs.get_queue_attributes(QueueUrl=self.events_queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=os.environ["NOTIFICATIONS_TOPIC_ARN"],
            Protocol="sqs",
            Endpoint=sns_arn,
            Attributes={"RawMessageDelivery": "false"},
        )
        events = self.client("events")
        events.put_rule(Name="sandbox-rollout-events", EventPattern='{"source": ["sagemaker-rollout"]}')
        events.put_targets(Rule="sandbox-rollout-events", Targets=[{"Id": "queue", "Arn": events_arn}])

    def notifications(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(SNS messages, EventBridge events) announced since the last call, read from SQS."""
        sqs = self.client("sqs")
        out: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
        for queue, sink in ((self.sns_queue, out[0]), (self.events_queue, out[1])):
            while True:
                messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    sink.append(json.loads(message["Body"]))
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return out

    def routes_topic(self, function: str, event: str) -> str:
        """The topic ARN a function's SNS event subscribes to."""
        route = next(r for r in self.routes if r.function == function and r.event == event)
        assert route.topic_arn is not None
        return route.topic_arn

    # --- the inference API ----------------------------------------------------------------

    def api(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        request_id: str | None = None,
        principal: Principal = ADMIN,
    ) -> dict[str, Any]:
        """Call the inference API as API Gateway would (REST proxy event, "*/*" binary media);
        ``request_id``: API Gateway's id of the request (a new UUID when None).

        The request comes from ``principal``, already authenticated (sandbox/sigv4.py checks
        signatures over HTTP): API Gateway authorizes it against its policies (sandbox/gateway.py;
        a refusal never reaches the function) and names it in ``requestContext.identity``. The
        default is a principal of the stack's account allowed to invoke the whole API."""
        import base64

        raw = body.encode() if isinstance(body, str) else body
        parts = urlsplit(path)
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        event = {
            "resource": path,
            "path": path,
            "httpMethod": method,
            "headers": headers or {},
            "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": path,
                "httpMethod": method,
                "path": f"/{STAGE}{path}",
                "stage": STAGE,
                "apiId": API_ID,
                "requestId": request_id or str(uuid.uuid4()),
                "accountId": ACCOUNT,
                "identity": identity(principal, user_agent=(headers or {}).get("User-Agent")),
            },
            "body": None if raw is None else base64.b64encode(raw).decode(),
            "isBase64Encoded": raw is not None,
        }
        refused = payload_limits.refusal(self.template, raw, event)  # before the function runs
        if refused is not None:
            return refused
        route = next((r for r in self.api_routes if r.matches(method, path)), None)
        if route is None:
            # What API Gateway answers for a path or method it does not have (IAM auth).
            return refusal("MissingAuthenticationTokenException", "Missing Authentication Token")
        refused = self.gateway.authorize(principal, method, path)
        if refused is not None:
            return refused
        event["resource"] = route.path
        event["requestContext"] = {**event["requestContext"], "resourcePath": route.path}  # type: ignore[dict-item]
        response: dict[str, Any] = self.handlers[route.function](event, LambdaContext(route.function))
        self.deliver_endpoint_events()
        return response

    def upload(self, upload: dict[str, Any], data: bytes) -> int:
        """POST a file to a presigned upload, as a client would (moto intercepts the request)."""
        import requests

        response = requests.post(upload["url"], data=upload["fields"], files={"file": ("input", data)}, timeout=30)
        self.deliver_endpoint_events()  # S3 announces the new object
        return response.status_code
