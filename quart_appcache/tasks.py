"""Running coroutines together: all of them, or none once one fails."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any

__all__ = ["cancel_all", "gather_or_cancel"]


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
