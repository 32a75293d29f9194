"""The stack on moto, in-process: resources from template.yaml, the real handlers, a simulated clock.

Events reach handlers the way EventBridge would deliver them: each event is matched against
the rule patterns declared in template.yaml and handed to the function the rule targets.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
from moto import mock_aws

from . import template as tpl
from .sagemaker_ext import EndpointSimulator

REGION = "us-east-1"
ACCOUNT = "123456789012"
TABLE = "sagemaker-rollout-sandbox"
TARGETS_PREFIX = "/sagemaker-rollout/sandbox/targets"
FUNCTIONS = {
    "ModelApprovalFunction": "model_approval",
    "RolloutControllerFunction": "rollout_controller",
}
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

Handler = Callable[[dict[str, Any], Any], Any]


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
        self, update_seconds: float = 120, parameters: dict[str, str] | None = None, deliver_each: int = 1
    ) -> None:
        self.now = START
        self.deliver_each = deliver_each  # >1: every event arrives that many times (at-least-once)
        self.template = tpl.load_template()
        self.parameters = {**tpl.parameter_defaults(self.template), **(parameters or {})}
        self.routes = tpl.routes(self.template, self.parameters)
        self.simulator = EndpointSimulator(clock=lambda: self.now, update_seconds=update_seconds)
        self.deliveries: list[Delivery] = []
        self._mock = mock_aws()
        self._env: dict[str, str | None] = {}
        self.handlers: dict[str, Handler] = {}
        self.role_arn = ""

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        from rollout_core import clock
        from rollout_core.wiring import rollout_service

        env = {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "TABLE_NAME": TABLE,
            "TARGETS_PREFIX": TARGETS_PREFIX,
            "POWERTOOLS_SERVICE_NAME": "sagemaker-rollout",
            "POWERTOOLS_METRICS_NAMESPACE": "SageMakerRollout",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("SANDBOX_LOG_LEVEL", "WARNING"),
        }
        for key, value in env.items():
            self._env[key] = os.environ.get(key)
            os.environ[key] = value
        self._mock.start()
        self.simulator.install()
        clock.set_source(lambda: self.now)
        iam = boto3.client("iam", region_name=REGION)
        self.role_arn = iam.create_role(
            RoleName="sagemaker-execution", AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}'
        )["Role"]["Arn"]
        os.environ["SAGEMAKER_EXECUTION_ROLE_ARN"] = self.role_arn
        self._env.setdefault("SAGEMAKER_EXECUTION_ROLE_ARN", None)
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(**tpl.table_definition(self.template, "RolloutTable", TABLE))
        rollout_service.cache_clear()
        for logical_id in FUNCTIONS:
            module = _load_handler(logical_id)
            self.handlers[logical_id] = module.lambda_handler
        return self

    def __exit__(self, *exc: object) -> None:
        from rollout_core import clock
        from rollout_core.wiring import rollout_service

        clock.set_source(None)
        rollout_service.cache_clear()
        self.simulator.uninstall()
        self._mock.stop()
        for key, value in self._env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    # --- clients --------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]

    # --- delivering events ----------------------------------------------------------------

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
            queue += self.simulator.drain()
        return done

    def deliver_endpoint_events(self) -> list[Delivery]:
        done = []
        for event in self.simulator.drain():
            done += self.deliver(event)
        return done

    def tick(self) -> list[Delivery]:
        """The schedule rule fires."""
        return self.deliver(
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": ACCOUNT,
                "time": self._iso(),
                "region": REGION,
                "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/sagemaker-rollout-sandbox-RolloutTick"],
                "detail": {},
            }
        )

    def advance(self, seconds: float, tick_every: float = 60) -> None:
        """Move the clock; endpoint transitions complete and the schedule fires on the way."""
        end = self.now + timedelta(seconds=seconds)
        while self.now < end:
            self.now = min(end, self.now + timedelta(seconds=tick_every))
            self.simulator.advance()
            self.deliver_endpoint_events()
            self.tick()
            self.deliver_endpoint_events()

    def _iso(self) -> str:
        return self.now.strftime("%Y-%m-%dT%H:%M:%SZ")

    # --- the model registry and alarms ----------------------------------------------------

    def register_package(self, group: str) -> str:
        """Register a new model package version in ``group`` (PendingManualApproval)."""
        sm = self.client("sagemaker")
        with contextlib.suppress(sm.exceptions.ClientError):  # the group exists already
            sm.create_model_package_group(ModelPackageGroupName=group)
        arn: str = sm.create_model_package(
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
        sm = self.client("sagemaker")
        sm.update_model_package(ModelPackageArn=package_arn, ModelApprovalStatus=status)
        package = sm.describe_model_package(ModelPackageName=package_arn)
        detail = {
            "ModelPackageGroupName": package["ModelPackageGroupName"],
            "ModelPackageVersion": package["ModelPackageVersion"],
            "ModelPackageArn": package_arn,
            "CreationTime": package["CreationTime"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "InferenceSpecification": package.get("InferenceSpecification", {}),
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": status,
            "UpdatedModelPackageFields": ["ModelApprovalStatus"],
        }
        return self.deliver(self._event("aws.sagemaker", "SageMaker Model Package State Change", [package_arn], detail))

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

    def set_alarm(self, name: str, state: str, reason: str = "sandbox") -> list[Delivery]:
        """Set an alarm's state; CloudWatch announces the change as documented."""
        cw = self.client("cloudwatch")
        previous = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]
        cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)
        stamp = self.now.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        detail = {
            "alarmName": name,
            "state": {"value": state, "reason": reason, "timestamp": stamp},
            "previousState": {"value": previous, "reason": "", "timestamp": stamp},
            "configuration": {"metrics": []},
        }
        arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
        return self.deliver(self._event("aws.cloudwatch", "CloudWatch Alarm State Change", [arn], detail))

    def _event(self, source: str, detail_type: str, resources: list[str], detail: dict[str, Any]) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": ACCOUNT,
            "time": self._iso(),
            "region": REGION,
            "resources": resources,
            "detail": detail,
        }

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
        try:
            return str(self.client("sagemaker").describe_endpoint(EndpointName=endpoint_name)["EndpointStatus"])
        except Exception:
            return None
