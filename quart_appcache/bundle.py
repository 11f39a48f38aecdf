"""One app's offline bundle: its declarations and how to compute it.

The pipeline runs here, framework-free: collect the entries (in a worker
thread, since it lists folders), compute their revisions concurrently, then
the version. Computing never stores a result anywhere that is served: what is
frozen belongs to :class:`~quart_appcache.site.Site` alone. In debug mode
concurrent callers share the computation in flight.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from .collect import Declarations, collect
from .digest import Progress, Render, Revision, compute_revisions, tracked_only, version_of
from .entries import Entry, FileEntry, OwnEntry
from .filehash import Result, RevisionCache, hash_files, prefetcher
from .helper import START_AT, Helper, available
from .prefetch import Prefetch
from .tasks import cancel_all
from .walk import ListingCache

__all__ = ["Bundle", "Snapshot"]


@dataclass(frozen=True)
class Snapshot:
    """The computed state of a bundle.

    Attributes:
        version: hex digest over the ordered ``(url, revision)`` pairs.
        updated: ISO 8601 time (UTC, microseconds) at which this process first
            saw ``version``, or the time recorded in a deploy-time build.
        revisions: every entry, in bundle order.
    """

    version: str
    updated: str
    revisions: tuple[Revision, ...]
    # The bytes of what the extension serves itself (the "own" revisions).
    own: tuple[OwnEntry, ...] = field(default=(), compare=False, repr=False)

    @functools.cached_property
    def tracked(self) -> tuple[Revision, ...]:
        """The app's own entries, without what the extension serves itself."""
        return tracked_only(self.revisions)

    @functools.cached_property
    def urls(self) -> list[str]:
        """The app's tracked URLs, in bundle order (do not change the list)."""
        return [item.url for item in self.tracked]


class Bundle:
    """The declarations of one app, and the caches that make recomputing cheap.

    Args:
        declarations: where the app's ``add_*`` calls go.
        helper: share many small files with a helper process
            (:mod:`quart_appcache.helper`) when there are at least
            ``START_AT`` of them.
    """

    def __init__(self, declarations: Declarations, *, helper: bool = True) -> None:
        self.declarations = declarations
        self._use_helper = helper and available()
        # Debug mode's helper, kept from one computation to the next.
        self._helper: Helper | None = None
        self._cache = RevisionCache()
        self._listings = ListingCache()
        self._inflight: asyncio.Task[Snapshot] | None = None
        self._last: Snapshot | None = None

    def collect_now(self) -> list[Entry]:
        """The app's entries as of now (without the extension's own), listed on this thread."""
        return collect(self.declarations, with_own=False)

    async def collect(
        self,
        *,
        cached: bool = False,
        with_own: bool = True,
        on_found: Callable[[list[FileEntry]], None] | None = None,
    ) -> list[Entry]:
        """The entries as of now, listed in a worker thread.

        Args:
            cached: reuse unchanged folder listings (debug mode).
            with_own: list the extension's own artifacts too.
            on_found: called, in that thread, with the files of each
                folder listing.
        """
        return await asyncio.to_thread(
            partial(
                collect,
                self.declarations,
                listings=self._listings if cached else None,
                with_own=with_own,
                on_found=on_found,
            )
        )

    async def current(self, render: Render, *, debug: bool = True) -> Snapshot:
        """A snapshot computed now, leniently (debug mode, or before startup).

        Concurrent callers share one computation in flight; it runs in a task
        with an empty context, so nothing of the caller's request leaks in,
        and a caller that goes away does not cancel it for the others.

        Args:
            render: renders a view URL to its body.
            debug: more computations will follow (keep a helper process
                between them); otherwise one started now goes when done.
        """
        task = self._inflight
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.create_task(
                self.compute(render, final=False, keep=debug), context=contextvars.Context()
            )
            self._inflight = task
            task.add_done_callback(self._forget)
        return await asyncio.shield(task)

    def _forget(self, task: asyncio.Task[Snapshot]) -> None:
        if self._inflight is task:
            self._inflight = None
        if not task.cancelled():
            task.exception()  # retrieved here; every waiter re-raises it

    async def compute(
        self,
        render: Render,
        *,
        final: bool,
        progress: Progress | None = None,
        keep: bool = False,
        with_own: bool = True,
    ) -> Snapshot:
        """Collect, digest and version the bundle now, and return the result.

        Args:
            render: renders a view URL to its body.
            final: fail on any unreadable file (finalize); otherwise leave
                out files that vanished (debug, or before startup).
            progress: told the number of entries, then each one done.
            keep: more computations follow (debug mode): remember each
                file's digest and each folder's listing, so the next one
                only ``stat``s what did not change, and keep the helper
                process. A one-off computation would pay for that per file,
                for nothing.
            with_own: include the extension's own files (a build's startup
                check leaves them to the build's fingerprint).
        """
        live = keep and not final
        helper = self._helper_for(live)
        cache = self._cache if live else None
        # The helper starts on the files while the walk goes on.
        prefetch = prefetcher(helper, cache) if helper is not None else None
        # Views do not need the folder listing, so their renders start while
        # it runs in a thread. A URL that turns out to be a file after all
        # (declared in a folder first) has its render cancelled and ignored.
        # While a helper may still be started, they wait until the walk has
        # found START_AT files (or ended): rendering holds the GIL that the
        # walk needs to get there, and a later helper hashes less meanwhile.
        early: dict[str, asyncio.Future[bytes]] = {}
        early_views = self.declarations.view_urls()
        rendering = False

        def render_early() -> None:
            nonlocal rendering
            if not rendering:
                rendering = True
                for url in early_views:
                    early[url] = asyncio.ensure_future(render(url))

        on_found = None
        if helper is None or helper.started:
            render_early()
        if helper is not None:
            loop = asyncio.get_running_loop()
            on_found = _on_found(helper, prefetch, lambda: loop.call_soon_threadsafe(render_early))
        try:
            entries = await self.collect(cached=live, with_own=with_own, on_found=on_found)
            render_early()
            revisions = await compute_revisions(
                entries,
                lambda url: early.pop(url, None) or render(url),
                cache=cache,
                lenient=not final,
                progress=progress,
                helper=helper,
                prefetch=prefetch,
            )
        finally:
            rendering = True  # (a late call from the walk renders nothing)
            await cancel_all(early.values())
            if prefetch is not None:
                prefetch.stop()  # (if hashing never started)
            if helper is not None and helper is not self._helper:
                helper.close()
        last = self._last
        # Tuple equality runs in C and takes identical items as equal at once:
        # an unchanged file gives back the very same entry.
        if not final and last is not None and last.revisions == tuple(revisions):
            return last  # nothing changed: the same version, not computed again
        own = tuple(entry for entry in entries if isinstance(entry, OwnEntry))
        return self._remember(await asyncio.to_thread(version_of, revisions), revisions, own)

    async def hash_paths(self, paths: Sequence[str]) -> list[Result]:
        """Hash files afresh (no cache, no renders), sharing them with a
        helper process when there are ``START_AT`` or more."""
        helper = Helper() if self._use_helper and len(paths) >= START_AT else None
        if helper is not None:
            await asyncio.to_thread(helper.start)  # (a fork and exec, off the loop)
        try:
            return await hash_files(paths, helper=helper)
        finally:
            if helper is not None:
                helper.close()

    def _helper_for(self, keep: bool) -> Helper | None:
        # A helper not kept goes with its computation. Without folders there
        # are no files for one.
        if not self._use_helper or all(isinstance(item, str) for item in self.declarations.items):
            return None
        if not keep:
            return Helper()
        if self._helper is None:
            self._helper = Helper()
        return None if self._helper.failed else self._helper

    def _remember(
        self, version: str, revisions: Sequence[Revision], own: tuple[OwnEntry, ...]
    ) -> Snapshot:
        # `updated` is when this process first saw a version: the same
        # version keeps its time, and a new one is always strictly later than
        # the one before, even within the clock's resolution.
        previous = self._last
        if previous is not None and previous.version == version:
            return previous  # (same version: same revisions, so the same own bytes)
        now = datetime.now(UTC)
        if previous is not None:
            now = max(now, datetime.fromisoformat(previous.updated) + timedelta(microseconds=1))
        updated = now.isoformat(timespec="microseconds")
        self._last = Snapshot(version, updated, tuple(revisions), own)
        return self._last


def _on_found(
    helper: Helper, prefetch: Prefetch | None, crossed: Callable[[], object]
) -> Callable[[list[FileEntry]], None]:
    """What the walk's thread does with each listing: start ``helper`` and
    call ``crossed`` once ``START_AT`` files are found, and hand the files to
    ``prefetch``."""
    found = 0

    def on_found(files: list[FileEntry]) -> None:
        nonlocal found
        if found < START_AT <= found + len(files):
            helper.start()
            crossed()
        found += len(files)
        if prefetch is not None:
            prefetch.add([file.path for file in files])

    return on_found
