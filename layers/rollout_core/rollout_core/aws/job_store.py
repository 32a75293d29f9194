"""DynamoDB store for jobs: item JOB#<id>, written conditionally on ``version``.

Jobs that are not finished carry the sparse ``live`` index key (live_pk "JOB", live_sk the
deadline), so the sweep reads only overdue jobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ..documents import load_job
from ..jobs import Job
from .clients import error_code
from .store import LIVE_INDEX, ConflictError

JOB_LIVE_KEY = "JOB"


def _key(job_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}


class JobStore:
    """``retention_days``: a job record expires (DynamoDB TTL on ``expiration``) that long after
    its deadline, as its input and output do from the bucket: its links are dead by then."""

    def __init__(self, client: Any, table_name: str, retention_days: int = 7) -> None:
        self._ddb = client
        self._table = table_name
        self._retention = timedelta(days=retention_days)

    def get(self, job_id: str) -> Job | None:
        item = self._ddb.get_item(TableName=self._table, Key=_key(job_id), ConsistentRead=True).get("Item")
        return None if item is None else load_job(item["body"]["S"])

    def _item(self, job: Job) -> dict[str, Any]:
        item: dict[str, Any] = {
            **_key(job.job_id),
            "job_id": {"S": job.job_id},
            "status": {"S": job.status.value},
            "version": {"N": str(job.version)},
            "body": {"S": job.model_dump_json()},
            "expiration": {"N": str(int((job.deadline + self._retention).timestamp()))},
        }
        if not job.status.terminal:
            item["live_pk"] = {"S": JOB_LIVE_KEY}
            item["live_sk"] = {"S": f"{job.deadline.isoformat()}#{job.job_id}"}
        elif job.outbox:
            # Finished, its announcement not yet made: due for the sweep at once.
            item["live_pk"] = {"S": JOB_LIVE_KEY}
            item["live_sk"] = {"S": f"{job.created_at.isoformat()}#{job.job_id}"}
        return item

    def create(self, job: Job) -> Job:
        created = job.model_copy(update={"version": 1})
        self._ddb.put_item(
            TableName=self._table, Item=self._item(created), ConditionExpression="attribute_not_exists(pk)"
        )
        return created

    def save(self, job: Job) -> Job:
        """Write ``job`` if nobody wrote since it was read (version + 1)."""
        nxt = job.model_copy(update={"version": job.version + 1})
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=self._item(nxt),
                ConditionExpression="version = :read",
                ExpressionAttributeValues={":read": {"N": str(job.version)}},
            )
        except ClientError as exc:
            if error_code(exc)[0] == "ConditionalCheckFailedException":
                raise ConflictError(f"job {job.job_id} changed since version {job.version}") from exc
            raise
        return nxt

    def overdue(self, now: datetime) -> Iterator[str]:
        """Ids of unfinished jobs whose deadline has passed, and of finished ones with an
        announcement still to make."""
        paginator = self._ddb.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            IndexName=LIVE_INDEX,
            KeyConditionExpression="live_pk = :job AND live_sk < :now",
            ExpressionAttributeValues={":job": {"S": JOB_LIVE_KEY}, ":now": {"S": now.isoformat()}},
        ):
            for item in page["Items"]:
                yield str(item["pk"]["S"]).removeprefix("JOB#")
