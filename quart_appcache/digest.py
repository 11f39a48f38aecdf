"""Entries to revisions, and revisions to one version.

Every entry gets its own revision, a digest of its content: files through
:mod:`quart_appcache.hashing`, views through a ``render`` callable that the
caller hands in (the Quart extension passes its in-process renderer, so this
module never imports Quart). All of it runs concurrently; results are put
back in entry order, so the version never depends on which finished first.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from .collect import Entry, FileEntry, OwnEntry, ViewEntry
from .errors import FileReadError
from .hashing import Digest, RevisionCache, hash_files, revision_of
from .tasks import gather_or_cancel

__all__ = ["Progress", "Render", "Revision", "compute_revisions", "tracked_only", "version_of"]

logger = logging.getLogger("quart_appcache")

Render = Callable[[str], Awaitable[bytes]]


class Progress(Protocol):
    """Told how many entries there are, then how many more are done."""

    def start(self, total: int) -> None:
        """Called once with the number of entries."""

    def advance(self, count: int) -> None:
        """Called as entries are done."""


Kind = Literal["file", "view", "own"]


# Hashable and never changed, but not frozen: a frozen dataclass's __init__
# costs three times as much, and one is made per file of the tree.
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
        entries: the bundle, in order (from :func:`~quart_appcache.collect.collect`).
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
    files: list[FileEntry] = []
    views: list[ViewEntry] = []
    own: list[OwnEntry] = []
    by_kind = {FileEntry: files.append, ViewEntry: views.append, OwnEntry: own.append}
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
    in_memory = [*bodies, *(entry.body for entry in own)]
    memory_revisions = await asyncio.to_thread(_revisions_of, in_memory) if in_memory else []
    view_revisions = memory_revisions[: len(views)]
    own_revisions = iter(zip(own, memory_revisions[len(views) :], strict=True))
    if advance is not None and own:
        advance(len(own))

    # One pass in entry order, so the result never depends on which work
    # finished first.
    file_results = iter(zip(files, file_results, strict=True))
    view_results = iter(zip(views, view_revisions, strict=True))
    known: dict[str, Digest] | None = {} if cache is not None else None
    revisions: list[Revision] = []
    append = revisions.append
    for entry in entries:
        kind = type(entry)
        if kind is FileEntry:
            file, result = next(file_results)
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
    return revisions


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
