"""The controller's pool: how many rollouts it reads, and endpoints it decides, at a time."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .aws.clients import CONCURRENT_CALLS

T = TypeVar("T")
R = TypeVar("R")

# How many rollouts one controller invocation reads, and how many endpoints it decides, at a
# time. A quiet tick costs each rollout a GetItem and a DescribeEndpoint: at 30 ms per call,
# 1,000 live rollouts take ~60 s one after another, ~4 s with 16 workers, inside the tick's
# minute. Each worker has at most one call in flight, so the clients' connection pool
# (max_pool_connections, aws/clients.py) is the same number. 16 threads are far below Lambda's
# 1,024 threads and 1,024 file descriptors per execution environment ("Lambda quotas").
# Concurrent decisions are safe: every save is a conditional write on the rollout's version,
# and one endpoint's rollouts stay on one worker, in order.
DECISION_WORKERS = CONCURRENT_CALLS


def concurrently(work: Callable[[T], R], items: list[T], workers: int) -> list[R]:
    """``[work(item) for item in items]``, ``workers`` at a time; the first error is raised.

    Each task runs in a copy of the caller's context (context variables reach the workers; one
    context cannot be entered by two threads). boto3 clients are thread-safe ("Multithreading
    or multiprocessing with clients", Boto3 guide). The X-Ray SDK keeps a segment per thread;
    in Lambda each worker makes its own from the invocation's trace header, so its calls are
    traced under the function's segment.
    """
    workers = min(workers, len(items))
    if workers <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decide") as pool:
        futures = [pool.submit(contextvars.copy_context().run, work, item) for item in items]
        return [future.result() for future in futures]
