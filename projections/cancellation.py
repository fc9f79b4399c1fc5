"""Honouring a cancellation that a library swallowed.

On Python 3.11, `asyncio.wait_for` returns the awaited result when it completes in the same turn as the caller is
cancelled, and the caller's `CancelledError` is lost (fixed in 3.12). nats-py awaits every request that way (a
KV create, a consumer lookup, a publish), so a projection cancelled at that moment used to carry on as if nothing
had happened: it took its lease again and ran for ever, and whoever awaited it after cancelling waited with it
(a test run hung on it under load). The task still counts the request (`Task.cancelling()`), so the runner's
loops look at it at every turn and end as they were asked to.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Raises `CancelledError` if this task was cancelled and something swallowed it on the way."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
