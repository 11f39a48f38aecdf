"""One app's offline bundle: its declarations and how to compute it.

The pipeline runs here, framework-free: collect the entries (in a worker
thread, since it lists folders), compute their revisions concurrently, then
the version. Computing never stores a result anywhere that is served: what is
frozen belongs to :class:`~quart_appcache.site.Site` alone. In debug mode
concurrent callers share the computation in flight.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from .collect import Declarations, collect
from .digest import Progress, Render, Revision, compute_revisions, tracked_only, version_of
from .entries import Entry, OwnEntry
from .hashing import Result, RevisionCache, hash_files
from .tasks import Shared, cancel_all
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
    """

    def __init__(self, declarations: Declarations) -> None:
        self.declarations = declarations
        self._cache = RevisionCache()
        self._listings = ListingCache()
        self._inflight: Shared[Snapshot] = Shared(keep=False)
        self._last: Snapshot | None = None

    def collect_now(self) -> list[Entry]:
        """The app's entries as of now (without the extension's own), listed on this thread."""
        return collect(self.declarations, with_own=False)

    async def collect(
        self,
        *,
        cached: bool = False,
        with_own: bool = True,
    ) -> list[Entry]:
        """The entries as of now, listed in a worker thread.

        Args:
            cached: reuse unchanged folder listings (debug mode).
            with_own: list the extension's own artifacts too.
        """
        return await asyncio.to_thread(
            partial(
                collect,
                self.declarations,
                listings=self._listings if cached else None,
                with_own=with_own,
            )
        )

    async def current(self, render: Render, *, debug: bool = True) -> Snapshot:
        """A snapshot computed now, leniently (debug mode, or before startup).

        Concurrent callers share one computation in flight; it runs in a task
        with an empty context, so nothing of the caller's request leaks in,
        and a caller that goes away does not cancel it for the others.

        Args:
            render: renders a view URL to its body.
            debug: more computations will follow: keep what makes the next
                one cheap (digests and listings).
        """
        return await self._inflight(lambda: self.compute(render, final=False, keep=debug))

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
                only ``stat``s what did not change. A one-off computation
                would pay for that per file, for nothing.
            with_own: include the extension's own files (a build's startup
                check leaves them to the build's fingerprint).
        """
        live = keep and not final
        cache = self._cache if live else None
        # Views do not need the folder listing, so their renders start now,
        # while it runs in a thread. A URL that turns out to be a file after
        # all (declared in a folder first) has its render cancelled and ignored.
        early = {url: asyncio.ensure_future(render(url)) for url in self.declarations.view_urls()}
        try:
            entries = await self.collect(cached=live, with_own=with_own)
            revisions = await compute_revisions(
                entries,
                lambda url: early.pop(url, None) or render(url),
                cache=cache,
                lenient=not final,
                progress=progress,
            )
        finally:
            await cancel_all(early.values())
        last = self._last
        # Tuple equality runs in C and takes identical items as equal at once:
        # an unchanged file gives back the very same entry.
        if not final and last is not None and last.revisions == tuple(revisions):
            return last  # nothing changed: the same version, not computed again
        own = tuple(entry for entry in entries if isinstance(entry, OwnEntry))
        return self._remember(await asyncio.to_thread(version_of, revisions), revisions, own)

    async def hash_paths(self, paths: Sequence[str]) -> list[Result]:
        """Hash files afresh (no cache, no renders)."""
        return await hash_files(paths)

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
