"""The job path's shell: record jobs, dispatch uploads to SageMaker, fold in the outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from . import clock
from .aws.clients import error_code
from .aws.job_store import JobStore
from .aws.notify import Notifier
from .aws.runtime import RuntimeGateway
from .aws.sagemaker import SageMakerGateway
from .aws.storage import Storage
from .aws.store import ConflictError, RolloutStore
from .aws.targets import TargetRepository
from .aws.transform import TransformGateway
from .jobs import (
    OUTPUT_PREFIX,
    Job,
    JobError,
    JobMode,
    JobRequest,
    JobStatus,
    async_expiry,
    job_id_from_key,
    job_id_from_transform,
    new_job,
)
from .models import Notification, Target

logger = Logger(child=True)

UPLOAD_GRACE = timedelta(hours=1)  # a job with no upload after this is failed by the sweep


@dataclass
class JobService:
    jobs: JobStore
    rollouts: RolloutStore
    targets: TargetRepository
    sagemaker: SageMakerGateway
    runtime: RuntimeGateway
    transform: TransformGateway
    storage: Storage
    bucket: str
    notifier: Notifier | None = None

    @staticmethod
    def now() -> datetime:
        return clock.now()

    # --- API ------------------------------------------------------------------------------

    def resolve_target(self, request: JobRequest) -> Target:
        target = (
            self.targets.get(request.target) if request.target else self.targets.find_by_endpoint(str(request.endpoint))
        )
        if target is None:
            raise JobError(404, f"no target for {request.target or request.endpoint}")
        return target

    def create(self, request: JobRequest, owner: str) -> tuple[Job, dict[str, Any]]:
        """Record a job of ``owner`` (jobs.job_owner) and hand out a presigned upload for its input."""
        target = self.resolve_target(request)
        now = self.now()
        job = new_job(request, target, self.bucket, now, owner)
        job = job.model_copy(update={"deadline": now + UPLOAD_GRACE})
        job = self.jobs.create(job)
        upload = self.storage.presign_upload(self.bucket, job.input_key, job.content_type, job.max_bytes)
        self._count("JobsCreated")
        logger.info("job recorded", extra={"job_id": job.job_id, "mode": job.mode.value})
        return job, upload

    def view(self, job_id: str, owner: str) -> dict[str, Any] | None:
        """The job as its owner sees it. None when there is no such job *or* it is someone
        else's (the API answers 404 to both: a refusal would confirm that the id exists), and
        for a job recorded before jobs had owners (an operator reads those: view_any)."""
        job = self.jobs.get(job_id)
        if job is None or job.owner is None or job.owner != owner:
            return None
        return self._view(job)

    def view_any(self, job_id: str) -> dict[str, Any] | None:
        """Any job, whoever created it (the operator route)."""
        job = self.jobs.get(job_id)
        return None if job is None else self._view(job)

    def _view(self, job: Job) -> dict[str, Any]:
        view: dict[str, Any] = {
            "job_id": job.job_id,
            "status": job.status.value,
            "mode": job.mode.value,
            "target": job.model_package_group,
            "endpoint": job.endpoint_name,
            "created_at": job.created_at.isoformat(),
            "updated_at": job.updated_at.isoformat(),
            "deadline": job.deadline.isoformat(),
            "failure_reason": job.failure_reason,
            "owner": job.owner,
            "output": None,
        }
        if job.status is JobStatus.SUCCEEDED and job.output_location:
            location = job.output_location
            if location.endswith("/"):  # a batch job's output prefix: its (first) output object
                location = self.storage.first_key(location) or location
            if not location.endswith("/"):
                view["output"] = self.storage.presign_download(location)
        return view

    # --- dispatch -------------------------------------------------------------------------

    def dispatch(self, bucket: str, key: str) -> Job | None:
        """The input of a job landed in S3: start its async inference or transform job."""
        job_id = job_id_from_key(key)
        job = self.jobs.get(job_id) if job_id and bucket == self.bucket else None
        if job is None:
            logger.info("upload is not one of our jobs; ignored", extra={"bucket": bucket, "key": key})
            return None
        if job.status is not JobStatus.PENDING_UPLOAD:
            logger.info("job already dispatched; duplicate event ignored", extra={"job_id": job.job_id})
            return job
        target = self.targets.get(job.model_package_group)
        if target is None:
            return self._fail(job, f"target {job.model_package_group} no longer exists")
        now = self.now()
        # Claim the job first: a duplicate event that arrives meanwhile sees RUNNING and stops.
        deadline = now + timedelta(seconds=target.inference.job_timeout_seconds)
        try:
            job = self.jobs.save(
                job.model_copy(update={"status": JobStatus.RUNNING, "updated_at": now, "deadline": deadline})
            )
        except ConflictError:
            return self.jobs.get(job.job_id)
        try:
            if job.mode is JobMode.ASYNC:
                assert target.inference.async_endpoint_name is not None
                output, failure = self.runtime.invoke_async(
                    target.inference.async_endpoint_name,
                    job.input_uri,
                    job.content_type,
                    job.accept,
                    job.job_id,
                    expiry=async_expiry(target.inference.job_timeout_seconds),  # by the job's deadline
                )
                changes: dict[str, Any] = {
                    "sagemaker_name": target.inference.async_endpoint_name,
                    "output_location": output,
                    "failure_location": failure,
                }
            else:
                model = self.serving_model(target)
                if model is None:
                    return self._fail(job, f"endpoint {target.endpoint_name} serves no model yet")
                output_uri = f"s3://{self.bucket}/{OUTPUT_PREFIX}batch/{job.job_id}/"
                name = self.transform.start(job, model, target, output_uri)
                changes = {"sagemaker_name": name, "model_name": model, "output_location": output_uri}
        except Exception as exc:
            code = error_code(exc)[0] or type(exc).__name__
            logger.exception("dispatch failed", extra={"job_id": job.job_id})
            return self._fail(job, f"could not start the {job.mode.value} job: {code}: {exc}")
        job = self.jobs.save(job.model_copy(update={**changes, "updated_at": self.now()}))
        self._count("JobsDispatched")
        return job

    def serving_model(self, target: Target) -> str | None:
        """The model the target's endpoint was last promoted to (the rollout store), else what serves."""
        model = self.rollouts.serving_model(target.endpoint_name)
        if model is not None:
            return model
        described = self.sagemaker.describe_endpoint(target.endpoint_name)
        if described is None:
            return None
        spec = self.sagemaker.serving_variant(described)
        return None if spec is None else spec.model_name

    # --- outcomes -------------------------------------------------------------------------

    def on_async_result(self, notification: dict[str, Any]) -> Job | None:
        """An async inference success/error notification (SNS message of SageMaker)."""
        job = self._ours(str(notification.get("inferenceId", "")))
        if job is None:
            return None
        response = notification.get("responseParameters", {})
        if notification.get("invocationStatus") == "Completed":
            return self._finish(job, JobStatus.SUCCEEDED, output_location=response.get("outputLocation"))
        reason = notification.get("failureReason") or "async inference failed"
        # The documented error message has no location; keep the one InvokeEndpointAsync gave.
        location = response.get("failureLocation") or job.failure_location
        return self._finish(job, JobStatus.FAILED, failure_reason=str(reason), failure_location=location)

    def on_transform_state(self, name: str, status: str, failure_reason: str | None) -> Job | None:
        job_id = job_id_from_transform(name)
        job = self._ours(job_id) if job_id else None
        if job is None:
            return None
        if status == "Completed":
            return self._finish(job, JobStatus.SUCCEEDED)
        if status in ("Failed", "Stopped"):
            return self._finish(job, JobStatus.FAILED, failure_reason=failure_reason or f"transform job {status}")
        return job  # InProgress / Stopping: nothing to record

    def sweep(self) -> list[Job]:
        """Fail the unfinished jobs whose deadline has passed (a transform job still running is
        stopped first: it would go on billing), and announce what a crash left unannounced."""
        failed = []
        now = self.now()
        for job_id in self.jobs.overdue(now):
            job = self.jobs.get(job_id)
            if job is None:
                continue
            if job.status.terminal:
                if job.outbox:
                    self._publish(job)
                continue
            if job.deadline > now:
                continue
            changes: dict[str, Any] = {"failure_reason": "no upload received before the deadline"}
            if job.status is JobStatus.RUNNING:
                changes["failure_reason"] = "still running at its deadline"
                if job.mode is JobMode.BATCH and job.sagemaker_name:
                    self.transform.stop(job.sagemaker_name)
                    changes = {
                        "failure_reason": "still running at its deadline: transform job stopped",
                        "stopped_at": now,
                    }
            done = self._finish(job, JobStatus.FAILED, **changes)
            if done is not None:
                failed.append(done)
        return failed

    # --- helpers --------------------------------------------------------------------------

    def _ours(self, job_id: str) -> Job | None:
        job = self.jobs.get(job_id) if len(job_id) == 32 else None
        if job is None:
            logger.info("not one of our jobs; ignored", extra={"job_id": job_id})
        return job

    def _finish(self, job: Job, status: JobStatus, **changes: Any) -> Job | None:
        """The job's outcome and its announcement, in one write; then the announcement is made."""
        if job.status.terminal:
            return job  # a duplicate or late notification
        finished = job.model_copy(update={"status": status, "updated_at": self.now(), **changes})
        try:
            done = self.jobs.save(finished.model_copy(update={"outbox": [_milestone(finished)]}))
        except ConflictError:
            return self.jobs.get(job.job_id)
        self._count("JobsSucceeded" if status is JobStatus.SUCCEEDED else "JobsFailed")
        logger.info("job finished", extra={"job_id": job.job_id, "status": status.value, "reason": done.failure_reason})
        return self._publish(done)

    def _publish(self, job: Job) -> Job:
        """Announce the job's outbox, then clear it; on failure it stays for the next sweep."""
        if self.notifier is not None:
            try:
                self.notifier.publish(job.outbox)
            except Exception:
                logger.exception("job notification failed; the sweep tries again", extra={"job_id": job.job_id})
                return job
        try:
            return self.jobs.save(job.model_copy(update={"outbox": []}))
        except ConflictError:  # someone else published and cleared it
            return self.jobs.get(job.job_id) or job

    def _fail(self, job: Job, reason: str) -> Job | None:
        return self._finish(job, JobStatus.FAILED, failure_reason=reason)

    @staticmethod
    def _count(name: str) -> None:
        # Metrics() shares one metric set per process (flushed by the handler's log_metrics);
        # made here, not at import, so it reads POWERTOOLS_METRICS_NAMESPACE as set now.
        Metrics().add_metric(name=name, unit=MetricUnit.Count, value=1)


def _milestone(job: Job) -> Notification:
    """Job Succeeded / Job Failed, for the notifications topic and the event bus."""
    outcome = "Succeeded" if job.status is JobStatus.SUCCEEDED else "Failed"
    text = f"{job.mode.value} job {job.job_id} on {job.endpoint_name}: {job.status.value}"
    if job.failure_reason:
        text += f" ({job.failure_reason})"
    return Notification(
        milestone=f"job_{outcome.lower()}",
        detail_type=f"Job {outcome}",
        subject=f"[sagemaker-rollout] {job.endpoint_name}: job {outcome.lower()}",
        message=text,
        detail={
            "job_id": job.job_id,
            "endpoint": job.endpoint_name,
            "mode": job.mode.value,
            "status": job.status.value,
            "failure_reason": job.failure_reason,
            "output_location": job.output_location,
        },
    )
