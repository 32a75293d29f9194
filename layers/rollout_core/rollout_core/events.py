"""Parser models (Powertools Parser / pydantic) for the events that trigger the handlers.

Shapes follow "Events that Amazon SageMaker AI sends to Amazon EventBridge" and CloudWatch's
"Alarm events and EventBridge"; samples are in ``events/``. Only the fields we use are
declared; the rest is accepted and ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import AwareDatetime, BaseModel, Field, field_validator


def _epoch_ms_or_iso(value: Any) -> Any:
    """SageMaker event times: ISO strings in the documented examples, epoch milliseconds in
    captured real events (numbers, or numeric strings). pydantic parses the ISO form."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.replace(".", "", 1).isdigit()):
        return datetime.fromtimestamp(float(value) / 1000, tz=UTC)
    return value


class ModelPackageStateChange(BaseModel):
    ModelPackageGroupName: str
    ModelPackageArn: str
    ModelPackageVersion: int | None = None
    ModelApprovalStatus: Literal["Approved", "Rejected", "PendingManualApproval"]
    # SageMaker sends this event for every update of a package (metadata, description,
    # lifecycle stage...); newer events name what changed ("Events that Amazon SageMaker AI
    # sends to Amazon EventBridge": ModelApprovalStatus, ApprovalDescription, ModelLifeCycle,
    # CustomerMetadataProperties, InferenceSpecification, sourceUri).
    UpdatedModelPackageFields: list[str] | None = None
    LastModifiedTime: AwareDatetime | None = None  # when the registry recorded this change

    _times = field_validator("LastModifiedTime", mode="before")(_epoch_ms_or_iso)

    @property
    def approval_changed(self) -> bool:
        """The approval status is what changed (an event without the field list may be one)."""
        return self.UpdatedModelPackageFields is None or "ModelApprovalStatus" in self.UpdatedModelPackageFields


class ModelPackageEvent(EventBridgeModel):
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Model Package State Change"] = Field(alias="detail-type")
    detail: ModelPackageStateChange


class EndpointStateChange(BaseModel):
    EndpointName: str
    # Events spell statuses IN_SERVICE, UPDATING, FAILED... (DescribeEndpoint says InService).
    EndpointStatus: str


class EndpointEvent(EventBridgeModel):
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Endpoint State Change"] = Field(alias="detail-type")
    detail: EndpointStateChange


class AlarmStateValue(BaseModel):
    value: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    reason: str = ""
    timestamp: datetime

    @field_validator("timestamp", mode="before")
    @classmethod
    def _cloudwatch_time(cls, value: Any) -> Any:
        # CloudWatch writes "2026-11-20T10:00:00.516+0000" (no colon in the offset).
        if isinstance(value, str) and len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
            return f"{value[:-2]}:{value[-2:]}"
        return value


class AlarmStateChange(BaseModel):
    alarmName: str
    state: AlarmStateValue


class AlarmEvent(EventBridgeModel):
    source: Literal["aws.cloudwatch"]
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    detail: AlarmStateChange


class ScheduledEvent(EventBridgeModel):
    source: Literal["aws.events", "aws.scheduler"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


ControllerEvent = Annotated[EndpointEvent | AlarmEvent | ScheduledEvent, Field(discriminator="detail_type")]


class AsyncInferenceNotification(BaseModel):
    """The message SageMaker async inference publishes to the success or error topic."""

    invocationStatus: str  # "Completed" on success, "Failed" on error
    inferenceId: str = ""
    failureReason: str | None = None
    requestParameters: dict[str, Any] = Field(default_factory=dict)
    responseParameters: dict[str, Any] = Field(default_factory=dict)


class AsyncTestNotification(BaseModel):
    """Not a result: SageMaker publishes it to an async endpoint's success and error topics after
    CreateEndpoint, UpdateEndpoint and every UpdateEndpointWeightsAndCapacities, to check that it
    may ("Create Endpoint", SageMaker asynchronous inference guide). Sample:
    events/sns_async_test_notification.json."""

    eventName: Literal["TestNotification"]
    eventSource: Literal["aws:sagemaker"] = "aws:sagemaker"
    eventVersion: str = "1.0"


# What arrives on the async topics; pydantic picks the model that validates (a result carries
# invocationStatus, a test notification its eventName).
AsyncNotification = AsyncTestNotification | AsyncInferenceNotification


class TransformJobStateChange(BaseModel):
    TransformJobName: str
    TransformJobStatus: str  # InProgress | Completed | Failed | Stopping | Stopped
    FailureReason: str | None = None


class TransformJobEvent(EventBridgeModel):
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker Transform Job State Change"] = Field(alias="detail-type")
    detail: TransformJobStateChange


JobEvent = Annotated[TransformJobEvent | ScheduledEvent, Field(discriminator="detail_type")]


class RolloutMilestone(BaseModel):
    """The detail of our own milestone events (source ``sagemaker-rollout``; history.notify and
    aws/notify.py write it). Events from before issue 11 lack the group and the origin."""

    rollout_id: str
    endpoint: str
    model_package_arn: str
    model_package_group: str | None = None
    environment: str | None = None  # the announcing stack's environment, account and region
    account: str | None = None
    region: str | None = None
    trigger: Literal["approval", "promotion", "manual"] = "approval"
    guard_alarms: list[str] = Field(default_factory=list)


class UpstreamMilestoneEvent(EventBridgeModel):
    """An upstream environment's milestone that a downstream stack acts on (promotion_service.py)."""

    source: Literal["sagemaker-rollout"]
    detail_type: Literal["Rollout Started", "Rollout Succeeded"] = Field(alias="detail-type")
    detail: RolloutMilestone
