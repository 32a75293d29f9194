"""SageMaker batch transform: one transform job per dataset job."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..jobs import Job, transform_job_name
from ..models import Target
from .clients import error_code


class TransformGateway:
    def __init__(self, client: Any) -> None:
        self._sm = client

    def start(self, job: Job, model_name: str, target: Target, output_uri: str) -> str:
        """CreateTransformJob named after the job (a repeat of the same job is a no-op)."""
        name = transform_job_name(job.job_id)
        settings = target.inference
        split = job.split_type != "None"
        transform_input: dict[str, Any] = {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": job.input_uri}},
            "ContentType": job.content_type,
            "SplitType": job.split_type,
        }
        transform_output: dict[str, Any] = {"S3OutputPath": output_uri}
        if job.accept:
            transform_output["Accept"] = job.accept
        if job.split_type == "Line":
            transform_output["AssembleWith"] = "Line"
        try:
            self._sm.create_transform_job(
                TransformJobName=name,
                ModelName=model_name,
                BatchStrategy="MultiRecord" if split else "SingleRecord",
                MaxPayloadInMB=settings.max_payload_mb,
                TransformInput=transform_input,
                TransformOutput=transform_output,
                TransformResources={
                    "InstanceType": settings.transform_instance_type or target.instance_type,
                    "InstanceCount": settings.transform_instance_count,
                },
                Tags=[{"Key": "sagemaker-rollout:job-id", "Value": job.job_id}],
            )
        except ClientError as exc:
            code, message = error_code(exc)
            if not (code in ("ResourceInUse", "ValidationException") and "already exist" in message.lower()):
                raise
        return name

    def stop(self, name: str) -> None:
        """StopTransformJob: a job past its deadline stops billing (Stopping, then Stopped). One
        that has just ended on its own is left as it is."""
        try:
            self._sm.stop_transform_job(TransformJobName=name)
        except ClientError as exc:
            code, message = error_code(exc)
            if not (
                code == "ValidationException"
                and ("stopped" in message.lower() or "completed" in message.lower() or "failed" in message.lower())
            ):
                raise
