"""Reads of moto's in-memory backends for the sandbox's own observers (never the product's).

The scenario runner and the stacks look at the world after every delivery: is there a
notification on our SQS taps, which rollouts does the store hold now. Through botocore each
look is a real call that moto answers in ~10 ms of request and response (de)serialisation, and a
scenario makes several hundred of them, most finding nothing new: a third of a scenario's time
(profiled on scenario 23). These read the same data straight from moto's models. The product's
calls still go through botocore; only what the observers read changes path, not what they see.
"""

from __future__ import annotations

from moto.dynamodb.models import dynamodb_backends
from moto.sqs.models import sqs_backends


def queue_is_empty(account: str, region: str, queue_url: str) -> bool:
    """No visible message on the queue (a queue moto does not know counts as not empty, so the
    caller's real ReceiveMessage reports it)."""
    queue = sqs_backends[account][region].queues.get(queue_url.rsplit("/", 1)[-1])
    return queue is not None and not queue.messages


def string_attribute(account: str, region: str, table: str, attribute: str, sort_key: str, value: str) -> list[str]:
    """The string ``attribute`` of every item whose ``sort_key`` is ``value`` (a Scan's answer)."""
    items = dynamodb_backends[account][region].get_table(table).all_items()
    out = []
    for item in items:
        key, wanted = item.attrs.get(sort_key), item.attrs.get(attribute)
        if key is not None and key.value == value and wanted is not None:
            out.append(str(wanted.value))
    return out
