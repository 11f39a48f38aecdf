"""One app's offline bundle: its declarations, their revisions and its version.

The pipeline runs here, framework-free: collect the entries (in a worker
thread, since it lists folders), compute every entry's revision concurrently
(files through :mod:`quart_appcache.hashing`, views through a ``render``
callable the caller hands in, the extension's own files from memory), put
them back in entry order (so the version never depends on which finished
first), then the version. Computing never stores a result anywhere that is served: what is
frozen belongs to :class:`~quart_appcache.site.Site` alone. In debug mode
concurrent callers share the computation in flight.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Literal, Protocol

from .declarations import Declarations, Entry, ExtensionEntry, FileEntry, ViewEntry, collect
from .errors import EntryTooLargeError, FileReadError
from .hashing import Digest, Result, RevisionCache, hash_files, revision_of
from .route_map import Discovery
from .tasks import Shared, cancel_all, gather_or_cancel
from .walk import ListingCache

__all__ = [
    "Bundle",
    "Progress",
    "Render",
    "Revision",
    "Snapshot",
    "compute_revisions",
    "tracked_only",
    "version_of",
]

logger = logging.getLogger("quart_appcache")

Render = Callable[[str], Awaitable[bytes]]
# Reads the route map: the discovery, and the bodies of the pages it rendered.
Discover = Callable[[], Awaitable[tuple[Discovery, dict[str, bytes]]]]


class Progress(Protocol):
    """Told how many entries there are, then how many more are done."""

    def start(self, total: int) -> None:
        """Called once with the number of entries."""

    def advance(self, count: int) -> None:
        """Called as entries are done."""


Kind = Literal["file", "view", "own"]


# Hashable and never changed, but not frozen: a frozen dataclass's __init__
# costs more, and one is made per file of the tree.
@dataclass(slots=True, unsafe_hash=True)
class Revision:
    """One cache entry: its URL, the revision of its content, its size, and
    where its bytes come from (a file, a view, or the extension itself)."""

    url: str
    revision: str
    size: int
    kind: Kind = "file"


async def compute_revisions(
    entries: Sequence[Entry],
    render: Render,
    *,
    cache: RevisionCache | None = None,
    lenient: bool = False,
    progress: Progress | None = None,
) -> list[Revision]:
    """Compute the revision of every entry, concurrently.

    Args:
        entries: the bundle, in order (from :func:`~quart_appcache.declarations.collect`).
        render: renders a view URL and returns its body; raises on failure.
        cache: debug-mode cache, so unchanged files are not read again.
        lenient: drop files that vanished since they were listed (debug mode)
            instead of failing.
        progress: told the total, then each entry done (the CLI's bar).

    Returns:
        One revision per entry, in entry order (vanished files left out when
        ``lenient``).

    Raises:
        FileReadError: a file could not be read.
        Whatever ``render`` raises for a view.
    """
    # Debug mode: the same entries as last time (the listing cache hands back
    # the very same objects, so this list comparison runs in C) split alike.
    previous: _Previous | None = cache.previous if cache is not None else None
    if previous is not None and previous.entries == entries:
        files, views, own, paths = previous.split
    else:
        previous = None
        files, views, own = [], [], []
        by_kind = {FileEntry: files.append, ViewEntry: views.append, ExtensionEntry: own.append}
        for entry in entries:  # one pass: this runs once per file of the tree
            by_kind[type(entry)](entry)  # type: ignore[operator]
        paths = [file.path for file in files]
    advance = progress.advance if progress is not None else None
    if progress is not None:
        progress.start(len(entries))

    async def render_one(url: str) -> bytes:
        body = await render(url)
        if advance is not None:
            advance(1)
        return body

    file_results, bodies = await gather_or_cancel(
        hash_files(paths, cache, on_done=advance),
        gather_or_cancel(*(render_one(view.url) for view in views)),
    )
    if previous is not None and previous.file_results == file_results and previous.bodies == bodies:
        # Nothing changed: every file gave back its cached digest and every
        # view the same bytes, so the revisions are the same objects.
        if advance is not None and own:
            advance(len(own))
        return list(previous.revisions)
    in_memory = [*bodies, *(entry.body for entry in own)]
    memory_revisions = await asyncio.to_thread(_revisions_of, in_memory) if in_memory else []
    view_revisions = memory_revisions[: len(views)]
    own_revisions = iter(zip(own, memory_revisions[len(views) :], strict=True))
    if advance is not None and own:
        advance(len(own))

    # One pass in entry order, so the result never depends on which work
    # finished first.
    results = iter(zip(files, file_results, strict=True))
    view_results = iter(zip(views, view_revisions, strict=True))
    known: dict[str, Digest] | None = {} if cache is not None else None
    revisions: list[Revision] = []
    append = revisions.append
    for entry in entries:
        kind = type(entry)
        if kind is FileEntry:
            file, result = next(results)
            if type(result) is tuple:
                append(Revision(file.url, result[0], result[1]))
            elif type(result) is Digest:
                # An unchanged file's digest is the cached object itself,
                # with the revision made from it last time.
                made = result.made
                if made is None or made.url != file.url:
                    made = result.made = Revision(file.url, result.revision, result.size)
                append(made)
                if known is not None:
                    known[file.path] = result
            elif lenient and isinstance(result, FileNotFoundError):
                logger.warning(
                    "quart_appcache: %r vanished while it was read; left out.", file.path
                )
            else:
                raise FileReadError(
                    f"Cannot cache {file.url!r}: reading {file.path!r} failed: "
                    f"{result.strerror or result}. Fix the file or exclude the URL."
                ) from result
        elif kind is ViewEntry:
            view, (revision, size) = next(view_results)
            append(Revision(view.url, revision, size, "view"))
        else:
            mine, (revision, size) = next(own_revisions)
            append(Revision(mine.url, revision, size, "own"))
    if cache is not None and known is not None:
        cache.replace(known)
        cache.previous = _Previous(
            list(entries), (files, views, own, paths), file_results, bodies, revisions
        )
    return revisions


@dataclass(frozen=True)
class _Previous:
    """One debug-mode computation's inputs and revisions."""

    entries: list[Entry]
    split: tuple[list[FileEntry], list[ViewEntry], list[ExtensionEntry], list[str]]
    file_results: list[Result]
    bodies: list[bytes]
    revisions: list[Revision]


async def _given(body: bytes) -> bytes:
    return body


def _revisions_of(bodies: list[bytes]) -> list[tuple[str, int]]:
    return [(revision_of(body), len(body)) for body in bodies]


def tracked_only(revisions: Sequence[Revision]) -> tuple[Revision, ...]:
    """The app's own entries, without what the extension serves itself."""
    return tuple(item for item in revisions if item.kind != "own")


def version_of(revisions: Sequence[Revision]) -> str:
    """One digest over the ordered ``(url, revision)`` pairs.

    URLs never contain a newline (they are percent-encoded), so the encoding
    below is unambiguous: renaming a URL or changing any content changes the
    version, and nothing else does.
    """
    text = "".join(f"{item.url}\n{item.revision}\n" for item in revisions)
    return hashlib.sha256(text.encode()).hexdigest()


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
    extension_files: tuple[ExtensionEntry, ...] = field(default=(), compare=False, repr=False)
    # The pages add_routes() found, and the page loads that never get the fallback.
    discovery: Discovery = field(default_factory=Discovery)

    @functools.cached_property
    def app_entries(self) -> tuple[Revision, ...]:
        """The app's own entries, without what the extension serves itself."""
        return tracked_only(self.revisions)

    @functools.cached_property
    def urls(self) -> list[str]:
        """The app's tracked URLs, in bundle order (do not change the list)."""
        return [item.url for item in self.app_entries]


class Bundle:
    """The declarations of one app, and the caches that make recomputing cheap.

    Args:
        declarations: where the app's ``add_*`` calls go.
        discover: reads the app's route map (``add_routes()``, non-pages)
            before every computation.
        max_entry_bytes: the size limit of an entry, if any.
        limit_key: how the user wrote that setting, for errors.
    """

    def __init__(
        self,
        declarations: Declarations,
        *,
        discover: Discover | None = None,
        max_entry_bytes: int | None = None,
        limit_key: str = "APPCACHE_MAX_ENTRY_BYTES",
    ) -> None:
        self.declarations = declarations
        self._discover = discover
        self.max_entry_bytes = max_entry_bytes
        self._limit_key = limit_key
        self._cache = RevisionCache()
        self._listings = ListingCache()
        self._inflight: Shared[Snapshot] = Shared(keep=False)
        self._last: Snapshot | None = None

    def collect_now(self) -> list[Entry]:
        """The app's entries as of now (without the extension's own), listed on this thread."""
        return collect(self.declarations, with_extension_files=False)

    async def collect(
        self,
        *,
        cached: bool = False,
        with_extension_files: bool = True,
    ) -> list[Entry]:
        """The entries as of now, listed in a worker thread.

        Args:
            cached: reuse unchanged folder listings (debug mode).
            with_extension_files: list the extension's own artifacts too.
        """
        return await asyncio.to_thread(
            partial(
                collect,
                self.declarations,
                listings=self._listings if cached else None,
                with_extension_files=with_extension_files,
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
        with_extension_files: bool = True,
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
            with_extension_files: include the extension's own files (a build's startup
                check leaves them to the build's fingerprint).
        """
        live = keep and not final
        cache = self._cache if live else None
        discovery, bodies = await self._discover() if self._discover else (Discovery(), {})
        # Views do not need the folder listing, so their renders start now,
        # while it runs in a thread (a page the route map's discovery just
        # rendered is not rendered again). A URL that turns out to be a file
        # after all (declared in a folder first) has its render cancelled and ignored.
        early = {
            url: asyncio.ensure_future(_given(bodies[url]) if url in bodies else render(url))
            for url in self.declarations.view_urls()
        }
        try:
            entries = await self.collect(cached=live, with_extension_files=with_extension_files)
            revisions = await compute_revisions(
                entries,
                lambda url: early.pop(url, None) or render(url),
                cache=cache,
                lenient=not final,
                progress=progress,
            )
        finally:
            await cancel_all(early.values())
        self._check_sizes(revisions)
        last = self._last
        # Tuple equality runs in C and takes identical items as equal at once:
        # an unchanged file gives back the very same entry.
        if (
            not final
            and last is not None
            and last.revisions == tuple(revisions)
            and last.discovery == discovery
        ):
            return last  # nothing changed: the same version, not computed again
        own = tuple(entry for entry in entries if isinstance(entry, ExtensionEntry))
        version = await asyncio.to_thread(version_of, revisions)
        return self._remember(version, revisions, own, discovery)

    def _check_sizes(self, revisions: Sequence[Revision]) -> None:
        """Refuse an entry over the size limit: browsers keep the whole bundle."""
        limit = self.max_entry_bytes
        if limit is None:
            return
        for item in revisions:
            # (The extension's own files are small, and not the app's to exclude.)
            if item.size > limit and item.kind != "own":
                key = self._limit_key
                raise EntryTooLargeError(
                    f"Cannot cache {item.url!r}: it is {item.size:,} bytes, over {key} "
                    f"({limit:,} bytes), and every visitor's browser would store it. "
                    f"Exclude it with add_excluded_urls({item.url!r}), or raise {key}.",
                    url=item.url,
                    size=item.size,
                )

    async def hash_paths(self, paths: Sequence[str]) -> list[Result]:
        """Hash files afresh (no cache, no renders)."""
        return await hash_files(paths)

    def _remember(
        self,
        version: str,
        revisions: Sequence[Revision],
        own: tuple[ExtensionEntry, ...],
        discovery: Discovery,
    ) -> Snapshot:
        # `updated` is when this process first saw a version: the same
        # version keeps its time, and a new one is always strictly later than
        # the one before, even within the clock's resolution.
        previous = self._last
        if previous is not None and previous.version == version:
            if previous.discovery == discovery:
                return previous  # (same version: same revisions, so the same own bytes)
            updated = previous.updated
        else:
            now = datetime.now(UTC)
            if previous is not None:
                now = max(now, datetime.fromisoformat(previous.updated) + timedelta(microseconds=1))
            updated = now.isoformat(timespec="microseconds")
        self._last = Snapshot(version, updated, tuple(revisions), own, discovery)
        return self._last
