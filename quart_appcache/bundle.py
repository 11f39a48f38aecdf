"""One app's offline bundle: its declarations, its computed snapshot, its state.

The pipeline runs here, framework-free: collect the entries (in a worker
thread, since it lists folders), compute their revisions concurrently, then
the version. In debug mode every request may compute again; concurrent
callers share the computation in flight. ``finalize`` computes once and
freezes.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from .collect import Declarations, collect
from .digest import Progress, Render, Revision, compute_revisions, version_of
from .entries import Entry
from .errors import FinalizedError
from .filehash import RevisionCache
from .tasks import cancel_all
from .walk import ListingCache

__all__ = ["Bundle", "Snapshot"]


@dataclass(frozen=True)
class Snapshot:
    """The computed state of a bundle.

    Attributes:
        version: hex digest over the ordered ``(url, revision)`` pairs.
        updated: ISO 8601 time (UTC) at which this process first saw
            ``version``, or the time recorded in a deploy-time build.
        revisions: every entry, in bundle order.
    """

    version: str
    updated: str
    revisions: tuple[Revision, ...]

    @property
    def urls(self) -> list[str]:
        """The URLs, in bundle order."""
        return [item.url for item in self.revisions]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Bundle:
    """The declarations and computed state of one app.

    Args:
        declarations: where the app's ``add_*`` calls go.
    """

    def __init__(self, declarations: Declarations) -> None:
        self.declarations = declarations
        self.snapshot: Snapshot | None = None
        self.finalized = False
        self._cache = RevisionCache()
        self._listings = ListingCache()
        self._inflight: asyncio.Task[Snapshot] | None = None

    def check_open(self, action: str) -> None:
        """Raise :class:`FinalizedError` when the bundle is frozen."""
        if self.finalized:
            raise FinalizedError(
                f"{action} was called after finalize(); the offline bundle is frozen. "
                "Make every declaration before the app starts serving (or before "
                "calling finalize())."
            )

    def urls(self) -> list[str]:
        """The tracked URLs as of now (folders listed again unless frozen)."""
        if self.snapshot is not None and self.finalized:
            return self.snapshot.urls
        return [entry.url for entry in collect(self.declarations)]

    async def collect(self, *, cached: bool = False) -> list[Entry]:
        """The entries as of now, listed in a worker thread.

        Args:
            cached: reuse unchanged folder listings (debug mode).
        """
        return await asyncio.to_thread(
            partial(collect, self.declarations, listings=self._listings if cached else None)
        )

    async def current(self, render: Render) -> Snapshot:
        """The snapshot: frozen once finalized, otherwise computed now.

        Concurrent callers share one computation in flight; it runs in a task
        with an empty context, so nothing of the caller's request leaks in,
        and a caller that goes away does not cancel it for the others.
        """
        if self.finalized and self.snapshot is not None:
            return self.snapshot
        task = self._inflight
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.create_task(
                self.compute(render, final=False), context=contextvars.Context()
            )
            self._inflight = task
            task.add_done_callback(self._forget)
        return await asyncio.shield(task)

    def freeze(self, snapshot: Snapshot) -> None:
        """Serve ``snapshot`` from now on and never compute again."""
        self.snapshot = snapshot
        self.finalized = True

    def _forget(self, task: asyncio.Task[Snapshot]) -> None:
        if self._inflight is task:
            self._inflight = None
        if not task.cancelled():
            task.exception()  # retrieved here; every waiter re-raises it

    async def compute(
        self, render: Render, *, final: bool, progress: Progress | None = None
    ) -> Snapshot:
        """Collect, digest and version the bundle now.

        Args:
            render: renders a view URL to its body.
            final: read every file afresh and fail on any unreadable one
                (finalize); otherwise reuse unchanged files' revisions and
                listings, and leave out files that vanished (debug).
            progress: told the number of entries, then each one done.
        """
        # Views do not need the folder listing, so their renders start while
        # it runs in a thread. A URL that turns out to be a file after all
        # (declared in a folder first) has its render cancelled and ignored.
        early = {url: asyncio.ensure_future(render(url)) for url in self.declarations.view_urls()}
        try:
            entries = await self.collect(cached=not final)
            revisions = await compute_revisions(
                entries,
                lambda url: early.pop(url, None) or render(url),
                cache=None if final else self._cache,
                lenient=not final,
                progress=progress,
            )
        finally:
            await cancel_all(early.values())
        return self._remember(await asyncio.to_thread(version_of, revisions), revisions)

    def _remember(self, version: str, revisions: Sequence[Revision]) -> Snapshot:
        previous = self.snapshot
        if previous is not None and previous.version == version:
            return previous
        self.snapshot = Snapshot(version, _now(), tuple(revisions))
        return self.snapshot
