"""DynamoDB store: one item per rollout, one lock item per endpoint.

Every write is conditional on the ``version`` the writer read, so two deciders on the same
rollout cannot both act. The lock item ``ENDPOINT#<name>`` names the one live rollout that
owns the endpoint; starting a rollout takes it in the same transaction. Live rollouts carry a
sparse GSI key, so the controller's tick reads only live rollouts, never the whole history.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from ..documents import load_rollout
from ..models import Rollout
from .clients import error_code

LIVE_INDEX = "live"
LIVE_KEY = "LIVE"


class ConflictError(Exception):
    """Someone else wrote first; re-read and decide again."""


def _rollout_key(rollout_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"ROLLOUT#{rollout_id}"}, "sk": {"S": "ROLLOUT"}}


def _lock_key(endpoint_name: str, slot: str = "LOCK") -> dict[str, Any]:
    """The endpoint's LOCK (its one live rollout) or GATE (its one WAITING rollout: promotion.py)."""
    return {"pk": {"S": f"ENDPOINT#{endpoint_name}"}, "sk": {"S": slot}}


GATE = "GATE"


class RolloutStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    # --- reads ----------------------------------------------------------------------------

    def get(self, rollout_id: str) -> Rollout | None:
        item = self._ddb.get_item(TableName=self._table, Key=_rollout_key(rollout_id), ConsistentRead=True).get("Item")
        return None if item is None else load_rollout(item["body"]["S"])

    def lock_owner(self, endpoint_name: str, slot: str = "LOCK") -> str | None:
        """The rollout holding the endpoint's LOCK (or, with ``slot=GATE``, its gate)."""
        key = _lock_key(endpoint_name, slot)
        item = self._ddb.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return None if item is None else str(item["rollout_id"]["S"])

    def serving_rollout(self, endpoint_name: str) -> str | None:
        """The id of the endpoint's last promoted rollout, if any."""
        item = self._ddb.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"ENDPOINT#{endpoint_name}"}, "sk": {"S": "SERVING"}},
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else str(item["rollout_id"]["S"])

    def serving_model(self, endpoint_name: str) -> str | None:
        """The model of the endpoint's last promoted rollout, if any."""
        item = self._ddb.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"ENDPOINT#{endpoint_name}"}, "sk": {"S": "SERVING"}},
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else str(item["model_name"]["S"])

    def set_serving_model(self, rollout: Rollout) -> None:
        """Record the promoted candidate as what the endpoint serves (batch jobs use it)."""
        self._ddb.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": f"ENDPOINT#{rollout.endpoint_name}"},
                "sk": {"S": "SERVING"},
                "model_name": {"S": rollout.candidate.model_name},
                "rollout_id": {"S": rollout.rollout_id},
            },
        )

    def of_endpoint(self, endpoint_name: str) -> list[Rollout]:
        """Every recorded rollout of one endpoint (every page of a filtered Scan; the versions view)."""
        found: list[Rollout] = []
        token: dict[str, Any] | None = None
        while True:
            items, token = self.page(1000, token, endpoint_name)
            found += items
            if not token:
                return found

    def page(
        self, limit: int, token: dict[str, Any] | None, endpoint: str | None = None, phase: str | None = None
    ) -> tuple[list[Rollout], dict[str, Any] | None]:
        """One page of all recorded rollouts (a filtered Scan); returns the next page's key."""
        conditions, values = ["sk = :rollout"], {":rollout": {"S": "ROLLOUT"}}
        if endpoint:
            conditions.append("endpoint_name = :endpoint")
            values[":endpoint"] = {"S": endpoint}
        if phase:
            conditions.append("phase = :phase")
            values[":phase"] = {"S": phase}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": " AND ".join(conditions),
            "ExpressionAttributeValues": values,
            "Limit": limit,
        }
        if token:
            kwargs["ExclusiveStartKey"] = token
        response = self._ddb.scan(**kwargs)
        items = [load_rollout(i["body"]["S"]) for i in response["Items"]]
        return items, response.get("LastEvaluatedKey")

    def live_ids(self) -> Iterator[str]:
        """Ids of live rollouts, oldest first (the GSI is eventually consistent)."""
        paginator = self._ddb.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            IndexName=LIVE_INDEX,
            KeyConditionExpression="live_pk = :live",
            ExpressionAttributeValues={":live": {"S": LIVE_KEY}},
            ProjectionExpression="rollout_id",
        ):
            for item in page["Items"]:
                yield str(item["rollout_id"]["S"])

    def live(self) -> Iterator[Rollout]:
        """The rollouts of the live index, each read consistently (the index may lag)."""
        for rollout_id in self.live_ids():
            rollout = self.get(rollout_id)
            if rollout is not None:
                yield rollout

    # --- writes ---------------------------------------------------------------------------

    def _item(self, rollout: Rollout) -> dict[str, Any]:
        item: dict[str, Any] = {
            **_rollout_key(rollout.rollout_id),
            "rollout_id": {"S": rollout.rollout_id},
            "endpoint_name": {"S": rollout.endpoint_name},
            "phase": {"S": rollout.phase.value},
            "version": {"N": str(rollout.version)},
            "created_at": {"S": rollout.created_at.isoformat()},
            "body": {"S": rollout.model_dump_json()},
        }
        if not rollout.settled:
            # Live, or finished with clean-up still to do. The GSI sort key starts with the
            # creation time, so a tick sees predecessors before their successors.
            item["live_pk"] = {"S": LIVE_KEY}
            item["live_sk"] = {"S": f"{rollout.created_at.isoformat()}#{rollout.rollout_id}"}
        return item

    def create(
        self, rollout: Rollout, *, stale_owner: str | None, superseded: Rollout | None, slot: str = "LOCK"
    ) -> Rollout:
        """Record a new rollout and make it the endpoint's owner, atomically.

        ``stale_owner`` is the lock's current owner as read (None: no lock); ``superseded``
        is that owner's new state when it was live and is being superseded. With ``slot=GATE``
        the new (WAITING) rollout takes the endpoint's gate instead of its lock.
        """
        created = rollout.model_copy(update={"version": 1})
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": self._item(created),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {"Put": self._slot_put(rollout, slot, stale_owner)},
        ]
        if superseded is not None:
            items.append({"Put": self._versioned_put(superseded)})
        self._transact(items)
        return created

    def claim(self, released: Rollout, *, stale_owner: str | None, superseded: Rollout | None) -> Rollout:
        """A WAITING rollout, released (now PENDING), leaves the gate and takes the lock, atomically."""
        items: list[dict[str, Any]] = [
            {"Put": self._versioned_put(released)},
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": _lock_key(released.endpoint_name, GATE),
                    "ConditionExpression": "rollout_id = :me",
                    "ExpressionAttributeValues": {":me": {"S": released.rollout_id}},
                }
            },
            {"Put": self._slot_put(released, "LOCK", stale_owner)},
        ]
        if superseded is not None:
            items.append({"Put": self._versioned_put(superseded)})
        self._transact(items)
        return released.model_copy(update={"version": released.version + 1})

    def _slot_put(self, rollout: Rollout, slot: str, stale_owner: str | None) -> dict[str, Any]:
        condition: dict[str, Any]
        if stale_owner is None:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "rollout_id = :owner",
                "ExpressionAttributeValues": {":owner": {"S": stale_owner}},
            }
        item = {**_lock_key(rollout.endpoint_name, slot), "rollout_id": {"S": rollout.rollout_id}}
        return {"TableName": self._table, "Item": item, **condition}

    def _transact(self, items: list[dict[str, Any]]) -> None:
        try:
            self._ddb.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc)[0] in ("TransactionCanceledException", "ConditionalCheckFailedException"):
                raise ConflictError(str(exc)) from exc
            raise

    def _versioned_put(self, rollout: Rollout) -> dict[str, Any]:
        nxt = rollout.model_copy(update={"version": rollout.version + 1})
        return {
            "TableName": self._table,
            "Item": self._item(nxt),
            "ConditionExpression": "version = :read",
            "ExpressionAttributeValues": {":read": {"N": str(rollout.version)}},
        }

    def save(self, rollout: Rollout) -> Rollout:
        """Write ``rollout`` if nobody wrote since it was read; the stored version goes up by one."""
        put = self._versioned_put(rollout)
        try:
            self._ddb.put_item(**put)
        except ClientError as exc:
            if error_code(exc)[0] == "ConditionalCheckFailedException":
                raise ConflictError(f"rollout {rollout.rollout_id} changed since version {rollout.version}") from exc
            raise
        saved = rollout.model_copy(update={"version": rollout.version + 1})
        if not saved.live:
            # Idempotent: also repeated when the clean-up is acknowledged. A rollout that ended
            # while it waited for a live predecessor (a first deployment or a promotion that is
            # not interrupted) hands the lock back to it: that one still moves traffic.
            self.release(saved, heir=self._live_predecessor(saved))
            if saved.promotion is not None and saved.promotion.released_at is None:
                self.release(saved, GATE)  # ended while WAITING: its gate is free
        return saved

    def _live_predecessor(self, rollout: Rollout) -> str | None:
        if not rollout.predecessor_id:
            return None
        predecessor = self.get(rollout.predecessor_id)
        return predecessor.rollout_id if predecessor is not None and predecessor.live else None

    def release(self, rollout: Rollout, slot: str = "LOCK", heir: str | None = None) -> None:
        """Free the endpoint's lock (or gate), or pass it to ``heir``, if this (finished) rollout
        still holds it. An heir that finishes meanwhile leaves a lock held by a finished rollout,
        which every taker treats as free (RolloutService.start)."""
        mine = {
            "ConditionExpression": "rollout_id = :me",
            "ExpressionAttributeValues": {":me": {"S": rollout.rollout_id}},
        }
        key = _lock_key(rollout.endpoint_name, slot)
        try:
            if heir is None:
                self._ddb.delete_item(TableName=self._table, Key=key, **mine)
            else:
                self._ddb.put_item(TableName=self._table, Item={**key, "rollout_id": {"S": heir}}, **mine)
        except ClientError as exc:
            if error_code(exc)[0] != "ConditionalCheckFailedException":
                raise
