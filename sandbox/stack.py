"""One stack on moto, in-process: resources from template.yaml, the real handlers, a simulated clock.

Events reach handlers the way EventBridge would deliver them: each event is matched against
the rule patterns declared in template.yaml and handed to the function the rule targets.
A ``Sandbox`` is one stack in one account; several can share one ``World`` (sandbox/world.py:
moto, the simulators, the clock, one event bus per account), as environments in a chain do
(sandbox/chain.py). Each stack's functions run with its own environment variables and their
own cached clients and services (rollout_core.wiring), as separate Lambda functions would.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import payload_limits, peek
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
from .world import ACCOUNT, REGION, START, World

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
    "PromotionFunction": "promotion",
}
STACK_NAME = "sagemaker-rollout-dev"  # the name the sample events in events/ carry

__all__ = ["ACCOUNT", "REGION", "START", "Delivery", "Sandbox", "World"]

Handler = Callable[[dict[str, Any], Any], Any]

# The function the sandbox is running now: tests and benchmarks key the AWS calls they see by it
# (sandbox/calls.py). Set by every handler in Sandbox.handlers, whichever path invokes it.
CURRENT_FUNCTION: ContextVar[str | None] = ContextVar("sandbox_current_function", default=None)
# The stack it belongs to (several stacks share a world: sandbox/chain.py).
CURRENT_STACK: ContextVar[Sandbox | None] = ContextVar("sandbox_current_stack", default=None)


def new_execution_environment() -> None:
    """Forget the clients and services the functions built (rollout_core.wiring's caches), as
    a new Lambda execution environment would."""
    from rollout_core import wiring

    for value in vars(wiring).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


def tracked(logical_id: str, handler: Handler, stack: Sandbox | None = None) -> Handler:
    """``handler``, running as function ``logical_id`` of ``stack`` (see CURRENT_FUNCTION): the
    process takes the stack's environment first."""

    def run(event: dict[str, Any], context: Any) -> Any:
        if stack is not None:
            stack.world.activate(stack)
        token = CURRENT_FUNCTION.set(logical_id)
        stack_token = CURRENT_STACK.set(stack)
        try:
            return handler(event, context)
        finally:
            CURRENT_STACK.reset(stack_token)
            CURRENT_FUNCTION.reset(token)

    return run


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as ``context`` (the fields Powertools reads)."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    account: str = ACCOUNT

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{self.account}:function:{self.function_name}"

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
    stack: str = "sandbox"  # the environment of the stack that ran it


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
    """One stack on moto. Use as a context manager.

    Alone (the default), it makes its own world. In a chain, several stacks share ``world``,
    each named after its ``environment`` (its table, targets path, bucket, topics, stack name)
    and living in ``account``; the Model Registry is in ``registry_account``.
    """

    def __init__(
        self,
        update_seconds: float = 120,
        parameters: dict[str, str] | None = None,
        deliver_each: int = 1,
        server_url: str | None = None,
        work_seconds: float = 60,
        lookup_seconds: float = 0,
        *,
        world: World | None = None,
        environment: str | None = None,
        account: str = ACCOUNT,
        registry_account: str | None = None,
        quotas: dict[str, int] | None = None,  # instance type -> this account's endpoint quota (issue 17)
        rps: float = 20.0,
    ) -> None:
        self._owns_world = world is None
        self.world = world or World(
            update_seconds=update_seconds,
            deliver_each=deliver_each,
            server_url=server_url,
            work_seconds=work_seconds,
            lookup_seconds=lookup_seconds,
            rps=rps,
        )
        self.environment = environment or "sandbox"
        self.account = account
        self.registry_account = registry_account or account
        if environment is None:
            self.stack_name, self.table, self.targets_prefix, self.jobs_bucket = (
                STACK_NAME,
                TABLE,
                TARGETS_PREFIX,
                JOBS_BUCKET,
            )
            self._prefix = "sandbox"
        else:
            self.stack_name = f"sagemaker-rollout-{environment}"
            self.table = f"sagemaker-rollout-{environment}"
            self.targets_prefix = f"/sagemaker-rollout/{environment}/targets"
            self.jobs_bucket = f"sagemaker-rollout-{environment}-{account}-jobs"
            self._prefix = f"sandbox-{environment}"
        self.template = tpl.load_template()
        self.parameters = {**tpl.parameter_defaults(self.template), **(parameters or {})}
        if environment is not None:
            self.parameters.setdefault("Environment", environment)
        self.gateway = Gateway(self.template, self.parameters, account=account)  # the API's IAM authorization
        self.quotas.set(account, quotas)
        self.sample_archives = 0  # sample payload archives put so far
        self.handlers: dict[str, Handler] = {}
        self.modules: dict[str, ModuleType] = {}  # each function's app module, as loaded
        self.role_arn = ""
        self.env: dict[str, str] = {}  # what the template gives this stack's functions
        self._wiring: dict[str, Any] = {}  # this stack's own rollout_core.wiring caches
        self._announced_seen = 0  # how far notifications() has read world.announced

    # --- what the stacks of a world share ---------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.world.now

    @now.setter
    def now(self, value: datetime) -> None:
        self.world.now = value

    @property
    def simulator(self) -> EndpointSimulator:
        return self.world.simulator

    @property
    def autoscaling(self) -> AutoscalingSimulator:
        return self.world.autoscaling

    @property
    def quotas(self) -> InstanceQuotas:
        return self.world.quotas

    @property
    def alarm_states(self) -> AlarmStates:
        return self.world.alarm_states

    @property
    def container_logs(self) -> ContainerLogs:
        return self.world.container_logs

    @property
    def jobs(self) -> JobsSimulator:
        return self.world.jobs

    @property
    def deliveries(self) -> list[Delivery]:
        return self.world.deliveries

    @property
    def deliver_each(self) -> int:
        return self.world.deliver_each

    @deliver_each.setter
    def deliver_each(self, value: int) -> None:
        self.world.deliver_each = value

    @property
    def server_url(self) -> str | None:
        return self.world.server_url

    @property
    def metrics(self) -> MetricStore:
        return self.world.metrics

    @property
    def traffic(self) -> TrafficSimulator:
        return self.world.traffic

    @property
    def stopwatch(self) -> float:
        return self.world.stopwatch

    def publish_traffic(self) -> None:
        """Users' requests of the minutes gone by, as per-variant metrics (before endpoints move on)."""
        self.world.publish_traffic()

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        if self._owns_world:
            self.world.start()
        self.world.stacks.append(self)
        sns = self.client("sns")
        topics = {
            "AsyncSuccessTopic": sns.create_topic(Name=f"{self._prefix}-async-success")["TopicArn"],
            "AsyncErrorTopic": sns.create_topic(Name=f"{self._prefix}-async-error")["TopicArn"],
            "NotificationsTopic": sns.create_topic(Name=f"{self._prefix}-notifications")["TopicArn"],
        }
        s3 = self.client("s3")
        s3.create_bucket(Bucket=self.jobs_bucket)
        if self.parameters.get("SamplePayloadBucket"):  # the users' bucket of sample payloads
            s3.create_bucket(Bucket=self.parameters["SamplePayloadBucket"])
        s3.put_bucket_notification_configuration(
            Bucket=self.jobs_bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        pseudo = {"AWS::StackName": self.stack_name, "AWS::Region": REGION, "AWS::AccountId": self.account}
        self.routes = tpl.routes(self.template, {**self.parameters, **pseudo, **topics, "JobsBucket": self.jobs_bucket})
        self.api_routes = tpl.api_routes(self.template)
        self.role_arn = self.client("iam").create_role(
            RoleName=f"{self._prefix}-sagemaker-execution",
            AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}',
        )["Role"]["Arn"]
        self.client("dynamodb").create_table(**tpl.table_definition(self.template, "RolloutTable", self.table))
        key, secret = self.world.credentials(self.account)
        self.env = {
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "TABLE_NAME": self.table,
            "TARGETS_PREFIX": self.targets_prefix,
            "JOBS_BUCKET": self.jobs_bucket,
            # As the template sets it for the rollout controller (SamplePayloadBucket).
            "SAMPLE_PAYLOAD_BUCKET": self.parameters.get("SamplePayloadBucket", ""),
            "JOB_RETENTION_DAYS": self.parameters.get("JobRetentionDays", "7"),
            "ALARM_NAME_PREFIX": self.parameters.get("AlarmNamePrefix", ""),
            # As the template sets it for the inference API and the rollout API (doctor).
            "REALTIME_LIMIT_BYTES": str(self.parameters.get("RealtimeLimitBytes", "4500000")),
            # As the template sets it for the inference API (ManagedEndpointPrefix or EndpointName).
            "MANAGED_ENDPOINT_PREFIX": self.parameters.get("ManagedEndpointPrefix")
            or self.parameters.get("EndpointName", ""),
            "ASYNC_SUCCESS_TOPIC_ARN": topics["AsyncSuccessTopic"],
            "ASYNC_ERROR_TOPIC_ARN": topics["AsyncErrorTopic"],
            "NOTIFICATIONS_TOPIC_ARN": topics["NotificationsTopic"],
            "SAGEMAKER_EXECUTION_ROLE_ARN": self.role_arn,
            "ENVIRONMENT": self.parameters.get("Environment") or self.environment,
            "ACCOUNT_ID": self.account,
        }
        self.world.tap(self.account)
        self._listen_for_notifications(sns)
        self.world.active = None
        self.cold_start()
        return self

    def cold_start(self) -> None:
        """A new execution environment for every function: each app module is loaded again, and
        the clients and services they built (rollout_core.wiring's caches) are gone."""
        self._wiring = {}
        self.world.active = None
        self.world.activate(self)
        new_execution_environment()
        for logical_id in FUNCTIONS:
            module = _load_handler(logical_id)
            self.modules[logical_id] = module
            self.handlers[logical_id] = tracked(logical_id, module.lambda_handler, self)

    def install_wiring(self) -> None:
        """rollout_core.wiring's cached builders, this stack's own (as a function of its own has them)."""
        from rollout_core import wiring

        if not self._wiring:
            self._wiring = {
                name: functools.cache(fn.__wrapped__)
                for name, fn in vars(wiring).items()
                if callable(getattr(fn, "cache_clear", None))
            }
        for name, fn in self._wiring.items():
            setattr(wiring, name, fn)

    def __exit__(self, *exc: object) -> None:
        if self in self.world.stacks:
            self.world.stacks.remove(self)
        if self.world.active is self:
            self.world.active = None
        if self._owns_world:
            self.world.stop()

    # --- clients --------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A client of this stack's account (as a test or an operator would make one), made once
        per world (sandbox/world.py: creating a boto3 client costs ~15 ms)."""
        return self.world.client(service, self.account)

    # --- delivering events ----------------------------------------------------------------

    def captured(self, action: Callable[[], object]) -> list[dict[str, Any]]:
        """The events ``action`` (a helper such as set_approval or tick) would deliver, kept
        instead: for tests and benchmarks that deliver them their own way."""
        events: list[dict[str, Any]] = []

        def keep(event: dict[str, Any], bus: str | None = None) -> list[Delivery]:
            events.append(event)
            return []

        self.deliver = keep  # type: ignore[method-assign]
        try:
            action()
        finally:
            del self.deliver
        return events

    def deliver(self, event: dict[str, Any], bus: str | None = None) -> list[Delivery]:
        """Put ``event`` on this stack's bus (or ``bus``): every function whose rule in
        template.yaml matches it gets it, on every stack of that bus.

        Endpoint state changes the handlers cause are announced by SageMaker and delivered
        in turn, as EventBridge would, before this returns; so are our own milestones.
        """
        return self.world.deliver(event, bus or self.account)

    def receive(self, event: dict[str, Any]) -> list[Delivery]:
        """``event`` is on this stack's bus: hand it to the functions whose rules match it."""
        done: list[Delivery] = []
        for route in self.routes:
            if not route.matches(event):
                continue
            for _ in range(self.deliver_each):
                delivery = Delivery(at=self.now, function=route.function, event=event, stack=self.environment)
                try:
                    context = LambdaContext(route.function, account=self.account)
                    delivery.result = self.handlers[route.function](event, context)
                except Exception as exc:  # the timeline shows it; EventBridge would retry
                    delivery.error = f"{type(exc).__name__}: {exc}"
                self.deliveries.append(delivery)
                done.append(delivery)
        return done

    def handler_errors(self) -> list[Delivery]:
        """The deliveries whose handler raised (EventBridge would retry them, then dead-letter)."""
        return [d for d in self.deliveries if d.error is not None]

    def deliver_endpoint_events(self) -> list[Delivery]:
        """Deliver what SageMaker, S3 and the functions announced (endpoint, job, upload events,
        our milestones)."""
        return self.world.deliver_pending()

    def evaluate_alarms(self) -> list[Delivery]:
        """CloudWatch evaluates the alarms that are due (sandbox/alarms_ext.py) and announces changes."""
        done = []
        for name in self.alarm_states.evaluate(self.account, REGION):  # no data, treated as not breaching
            done += self.set_alarm(name, "OK", "Threshold Crossed: no datapoints were received (not breaching)")
        return done

    def tick(self, rule: str = "RolloutTick") -> list[Delivery]:
        """A schedule rule fires (RolloutTick: the controller; JobSweep: the job sweep)."""
        rule_arn = f"arn:aws:events:{REGION}:{self.account}:rule/{self.stack_name}-{rule}"
        return self.deliver(self._event("aws.events", "Scheduled Event", [rule_arn], {}))

    def advance(self, seconds: float, tick_every: float = 60) -> None:
        """Move the clock; endpoint transitions complete and the schedules fire on the way."""
        self.world.advance(seconds, tick_every)

    # --- the model registry and alarms ----------------------------------------------------

    def register_package(self, group: str, samples: dict[str, bytes] | None = None) -> str:
        """Register a new model package version in ``group`` (PendingManualApproval).

        ``samples``: file name -> payload, put as the package's SamplePayloadUrl: "a single gzip
        compressed tar archive (.tar.gz suffix)" (DescribeModelPackage API reference), in the
        SamplePayloadBucket the sandbox was given."""
        sm = self.world.client("sagemaker", self.registry_account)
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
        owner = self.registry_account
        arn: str = sm.create_model_package(
            **extra,
            ModelPackageGroupName=group,
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": f"{owner}.dkr.ecr.{REGION}.amazonaws.com/{group}:latest",
                        "ModelDataUrl": f"s3://models-{owner}/{group}/model.tar.gz",
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
        sm = self.world.client("sagemaker", self.registry_account)
        sm.update_model_package(ModelPackageArn=package_arn, ModelApprovalStatus=status)
        return self._announce_package(package_arn, ["ModelApprovalStatus"])

    def edit_package(self, package_arn: str, description: str) -> list[Delivery]:
        """Change a package's approval description: SageMaker announces every update of a package."""
        sm = self.world.client("sagemaker", self.registry_account)
        # moto's UpdateModelPackage clears the approval status when the request leaves it out
        # (SageMaker keeps it): passed along unchanged here.
        status = sm.describe_model_package(ModelPackageName=package_arn)["ModelApprovalStatus"]
        sm.update_model_package(
            ModelPackageArn=package_arn, ModelApprovalStatus=status, ApprovalDescription=description
        )
        return self._announce_package(package_arn, ["ApprovalDescription"])

    def _announce_package(self, package_arn: str, changed: list[str]) -> list[Delivery]:
        sm = self.world.client("sagemaker", self.registry_account)
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
        event = envelope(
            "aws.sagemaker",
            "SageMaker Model Package State Change",
            [package_arn],
            detail,
            self.now,
            self.registry_account,
            REGION,
        )
        return self.deliver(event, self.registry_account)

    def autoscale(self, endpoint_name: str, count: int) -> list[Delivery]:
        """Application Auto Scaling moves the serving variant to ``count`` instances (as it does:
        UpdateEndpointWeightsAndCapacities); SageMaker announces the change."""
        from moto.sagemaker.models import sagemaker_backends

        self.simulator.autoscale(sagemaker_backends[self.account][REGION], endpoint_name, count)
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
        arn = f"arn:aws:cloudwatch:{REGION}:{self.account}:alarm:{name}"
        return self.deliver(self._event("aws.cloudwatch", "CloudWatch Alarm State Change", [arn], detail))

    def _stamp_alarm(self, name: str) -> None:
        """moto stamps a state change (StateUpdatedTimestamp) with the wall clock: the sandbox's
        alarms change on the simulated one."""
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[self.account][REGION].alarms[name].state_updated_timestamp = self.now

    def _event(self, source: str, detail_type: str, resources: list[str], detail: dict[str, Any]) -> dict[str, Any]:
        return envelope(source, detail_type, resources, detail, self.now, self.account, REGION)

    # --- targets and views ----------------------------------------------------------------

    def put_target(self, target_json: str, group: str) -> None:
        self.client("ssm").put_parameter(
            Name=f"{self.targets_prefix}/{group}", Value=target_json, Type="String", Overwrite=True
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
        """An SQS queue on the notifications topic, so what the stack announces can be read back
        (as a subscriber would); its EventBridge events are read on the world's tap."""
        sqs = self.client("sqs")
        self.sns_queue = sqs.create_queue(QueueName=f"{self._prefix}-notifications")["QueueUrl"]
        sns_arn = sqs.get_queue_attributes(QueueUrl=self.sns_queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=self.env["NOTIFICATIONS_TOPIC_ARN"],
            Protocol="sqs",
            Endpoint=sns_arn,
            Attributes={"RawMessageDelivery": "false"},
        )

    def notifications(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(SNS messages, EventBridge events) this stack announced since the last call."""
        sqs = self.client("sqs")
        messages_out: list[dict[str, Any]] = []
        while not peek.queue_is_empty(self.account, REGION, self.sns_queue):  # no empty ReceiveMessage per look
            messages = sqs.receive_message(QueueUrl=self.sns_queue, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                messages_out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.sns_queue, ReceiptHandle=message["ReceiptHandle"])
        self.world.collect()
        fresh = self.world.announced[self._announced_seen :]
        self._announced_seen = len(self.world.announced)
        mine = [
            e
            for e in fresh
            if e.get("account") == self.account and e.get("detail", {}).get("environment") == self.env["ENVIRONMENT"]
        ]
        return messages_out, mine

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
                "accountId": self.account,
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
        context = LambdaContext(route.function, account=self.account)
        try:
            response: dict[str, Any] = self.handlers[route.function](event, context)
        except Exception as exc:
            # "If the function runs but returns an error ... API Gateway returns a 502 ... the body
            # ... is {"message": "Internal server error"}" (Lambda Developer Guide, "Handling Lambda
            # errors with an API Gateway API"). The timeline keeps the error, as for events.
            self.deliveries.append(Delivery(self.now, route.function, event, error=f"{type(exc).__name__}: {exc}"))
            body = json.dumps({"message": "Internal server error"})
            response = {"statusCode": 502, "headers": {"Content-Type": "application/json"}, "body": body}
        self.deliver_endpoint_events()
        return response

    def upload(self, upload: dict[str, Any], data: bytes) -> int:
        """POST a file to a presigned upload, as a client would (moto intercepts the request)."""
        import requests

        response = requests.post(upload["url"], data=upload["fields"], files={"file": ("input", data)}, timeout=30)
        self.deliver_endpoint_events()  # S3 announces the new object
        return response.status_code
