"""Running coroutines together: all of them or none once one fails, and shared by every caller."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

__all__ = ["Shared", "cancel_all", "gather_or_cancel"]

T = TypeVar("T")


async def gather_or_cancel(*aws: Awaitable[Any]) -> list[Any]:
    """``asyncio.gather`` that cancels the rest as soon as one raises.

    Plain ``gather`` leaves the others running after the first error: a
    hanging view would keep rendering long after the manifest failed.

    Returns:
        The results, in the order given.

    Raises:
        The first exception raised, after the others have been cancelled and
        awaited.
    """
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        await cancel_all(tasks)
        raise


async def cancel_all(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel the tasks and wait until they are gone, retrieving their errors."""
    pending = list(tasks)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


class Shared(Generic[T]):
    """One computation shared by every caller, the single-flight helper of the core.

    Callers that ask while it runs share it; with ``keep``, so do later ones
    once it succeeded (for the same ``key``). Each caller awaits it
    shielded, so one that goes away does not cancel it for the others. It
    runs in a task with an empty ``contextvars`` context (nothing of the
    request that started it leaks in). A computation that failed or was
    cancelled, made on another event loop, or made for another key, is
    started afresh by the next caller.

    Args:
        keep: share the result after it succeeded, not only while it runs.
    """

    def __init__(self, *, keep: bool = True) -> None:
        self._keep = keep
        self._task: asyncio.Task[T] | None = None
        self._key: object = None

    @property
    def running(self) -> bool:
        """Whether a computation is under way."""
        return self._task is not None and not self._task.done()

    async def joined(self) -> T | None:
        """The result of the computation under way, or ``None`` when none runs."""
        task = self._task
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            return None
        return await asyncio.shield(task)

    async def __call__(self, make: Callable[[], Awaitable[T]], key: object = None) -> T:
        """The shared result of ``make()``, started now unless one can be shared."""
        task = self._task
        if task is None or self._key != key or not self._reusable(task):
            task = asyncio.create_task(_await(make), context=contextvars.Context())
            task.add_done_callback(_retrieve)
            self._task, self._key = task, key
        return await asyncio.shield(task)

    def _reusable(self, task: asyncio.Task[T]) -> bool:
        if task.get_loop() is not asyncio.get_running_loop():
            return False
        if not task.done():
            return True
        return self._keep and not task.cancelled() and task.exception() is None


async def _await(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved here; every waiter re-raises it
