"""File revisions: files read concurrently from disk and hashed off the event loop.

Three shapes of work, all in the thread pool that aiofiles uses, each with a
bounded number of open files and bounded memory:

* **Small files** (up to ``INLINE_MAX``) are opened, read into a reused
  buffer and hashed in batches by one worker thread that goes from batch to
  batch by itself: a thread-pool hop per file and call would cost more than
  the work, and a second thread would only fight the first for the GIL.
  A file is never ``fstat``-ed unless its read says it may not be a small
  regular file.
* **Larger files**, found by that read, go to ``WORKERS`` hashers that always
  take the largest files waiting: hashlib releases the GIL on large buffers,
  so they use every core while the batches go on.
* **Huge files** (over ``STREAM_MIN``) stream in chunks, one hop per chunk, so
  memory stays bounded and a cancelled computation does not wait for them.

Files are opened with ``O_NONBLOCK`` and must be able to seek, so a FIFO or
socket swapped in since the listing is never read; a read that returns
nothing, or more than a small file holds (a device), is checked with
``fstat`` and refused unless the file is regular.

In debug mode a :class:`RevisionCache` remembers each file's digest and when
it was read. The next computation ``stat``s the file and trusts the digest
when the size matches and both mtime and ctime are older than the read by
``RACY_NS`` (no same-size rewrite can hide in the filesystem's timestamp
granularity; ctime moves on every write and cannot be set back). That
``stat`` is then kept, and from then on must match exactly. A file that is
not trusted is read again. Measurements behind these choices are in
``benchmarks/NOTES.md``.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import io
import os
import stat
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import aiofiles.os

from .tasks import gather_or_cancel

__all__ = [
    "INLINE_MAX",
    "REVISION_CHARS",
    "Digest",
    "Hashed",
    "Result",
    "RevisionCache",
    "Stamp",
    "hash_files",
    "revision_of",
]

# Up to this size a file is hashed inline in its batch: cheaper than handing
# it to another thread.
INLINE_MAX = 64 * 1024
# A revision is 128 bits of the SHA-256: plenty against collisions, and short
# in manifests (the worker checks bytes against the same prefix).
REVISION_CHARS = 32
# Over this size a file streams one chunk per hop.
STREAM_MIN = 64 * 1024 * 1024
# A hasher takes the largest waiting files together, up to this many bytes
# per hop, so the cores are not left idle between hops.
GROUP_BYTES = 8 * 1024 * 1024
# Files per batch: few hops for a large tree, yet a progress bar that moves.
# The first batch is smaller, so the hashers of larger files start at once.
BATCH_FILES = 1024
FIRST_BATCH_FILES = 64
# Files per batch when most are only stat-ed against the debug cache (a stat
# costs a fraction of a read).
CACHED_BATCH_FILES = 4096
CHUNK = 1024 * 1024
# Larger files hashed at once: one per core (hashing releases the GIL).
WORKERS = max(2, os.cpu_count() or 2)
# A timestamp this close to the moment a file was read may hide a same-size
# rewrite inside the filesystem's timestamp granularity (2 s on FAT).
RACY_NS = 2_000_000_000
OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC

Stamp = tuple[int, int, int, int]
"""``(size, mtime_ns, ctime_ns, inode)`` of a file."""


def revision_of(data: bytes | bytearray | memoryview) -> str:
    """The revision string of some content: a truncated SHA-256 hex digest."""
    return hashlib.sha256(data).hexdigest()[:REVISION_CHARS]


# Not frozen: a frozen dataclass's __init__ costs more, and one is made per
# file of the tree; ``stamp`` is set once, by the check that first trusts it.
@dataclass(slots=True, eq=False)
class Digest:
    """A file's revision and size, when it was read, and, once a later
    ``stat`` showed it unchanged since before that read, that ``stat``."""

    revision: str
    size: int
    read_at_ns: int
    stamp: Stamp | None = None
    # What the caller made of this digest (the bundle's entry), kept with it:
    # an unchanged file then gives back the very same entry.
    made: Any = None

    def unchanged(self, stamp: Stamp) -> bool:
        """Whether the file with this ``(size, mtime_ns, ctime_ns, inode)``
        still has this digest.

        The first time, the file must have the same size, and both its
        timestamps must be older than the read by ``RACY_NS``; its stamp is
        then kept. Later, the stamp must match exactly.
        """
        if self.stamp is not None:
            return stamp == self.stamp
        settled = self.read_at_ns - RACY_NS
        size, mtime_ns, ctime_ns, _ = stamp
        if size == self.size and mtime_ns < settled and ctime_ns < settled:
            self.stamp = stamp
            return True
        return False


Hashed = tuple[str, int]
"""``(revision, size)`` of a file read when nothing is cached (no stamp kept)."""
Result = Digest | Hashed | OSError
# What the small-file loop gives per file: a result, or the size of a larger
# file to hash elsewhere.
_Small = Hashed | int | OSError


class RevisionCache:
    """Digests of files seen before, by path (debug mode)."""

    def __init__(self) -> None:
        self.known: dict[str, Digest] = {}
        # What the bundle made of the last computation, to recognise an
        # unchanged one at once (see quart_appcache.bundle).
        self.previous: Any = None

    def replace(self, known: dict[str, Digest]) -> None:
        """Keep exactly these files (forgetting deleted ones)."""
        self.known = known


def open_file(path: str) -> int:
    """Open a file to hash, never blocking on a FIFO swapped in."""
    return os.open(path, OPEN_FLAGS)


# Every open here goes through this name, so tests can count what is opened.
_open = open_file


def _hash_small(paths: Sequence[str], buffer: bytearray) -> list[_Small]:
    """Read and hash small files, one after the other, in this thread.

    ``buffer`` holds ``INLINE_MAX + 1`` bytes: a full read means a larger
    file, whose size is returned instead.
    """
    results: list[_Small] = []
    append = results.append
    # Local names: this loop runs once per file of the tree.
    sha256, readv, seek, close, fstat, is_regular, open_ = (
        hashlib.sha256,
        os.readv,
        os.lseek,
        os.close,
        os.fstat,
        stat.S_ISREG,
        _open,
    )
    with memoryview(buffer) as view:
        into = [view]
        for path in paths:
            try:
                fd = open_(path)
                try:
                    try:
                        # Cheaper than an fstat: a FIFO or socket cannot seek.
                        seek(fd, 0, io.SEEK_CUR)
                    except OSError:
                        raise OSError(f"{path!r} is no longer a regular file") from None
                    count = readv(fd, into)
                    if count == 0 or count > INLINE_MAX:
                        # Only now an fstat: empty, larger, or a device.
                        st = fstat(fd)
                        if not is_regular(st.st_mode):
                            raise OSError(f"{path!r} is no longer a regular file")
                        if count:
                            append(max(st.st_size, count))
                            continue
                finally:
                    close(fd)
            except OSError as error:
                append(error)
                continue
            append((sha256(view[:count]).hexdigest()[:REVISION_CHARS], count))
    return results


def _hash_batch(
    paths: Sequence[str], known: Mapping[str, Digest] | None, buffer: bytearray
) -> list[Result | int]:
    """Hash a batch of small files; files ``known`` vouches for are only stat-ed.

    Returns, per path: a digest (a :class:`Digest` when a cache is kept, so
    it can keep it), the ``OSError`` it raised, or, for a file larger than
    ``INLINE_MAX``, its size.
    """
    # One timestamp for the whole batch: taken before any read, it can only
    # make the racy-timestamp rule stricter.
    read_at = time.time_ns()
    if known is None:
        return cast("list[Result | int]", _hash_small(paths, buffer))
    results: list[Result | int | None] = [None] * len(paths)
    unread: list[int] = []
    stat_ = os.stat
    for index, path in enumerate(paths):
        cached = known.get(path)
        if cached is not None:
            try:
                st = stat_(path)
            except OSError as error:
                results[index] = error
                continue
            stamp = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
            # Digest.unchanged, inlined for the common case.
            if cached.stamp == stamp or (cached.stamp is None and cached.unchanged(stamp)):
                results[index] = cached
                continue
        unread.append(index)
    if unread:
        read = _hash_small([paths[index] for index in unread], buffer)
        for index, result in zip(unread, read, strict=True):
            results[index] = (
                Digest(result[0], result[1], read_at) if type(result) is tuple else result
            )
    return cast("list[Result | int]", results)  # every index was filled above


def _open_regular(path: str) -> tuple[int, os.stat_result]:
    fd = _open(path)
    try:
        st = os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise OSError(f"{path!r} is no longer a regular file")
    return fd, st


_buffers = threading.local()


def _buffer() -> bytearray:
    """This thread's reusable read buffer."""
    buffer: bytearray | None = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = bytearray(CHUNK)
    return buffer


def _hash_whole(path: str) -> Result:
    """Read and hash one file in this thread, through the thread's buffer."""
    read_at = time.time_ns()
    try:
        fd, _ = _open_regular(path)
        try:
            h = hashlib.sha256()
            size = 0
            with memoryview(_buffer()) as view:
                while count := os.readv(fd, [view]):
                    h.update(view[:count])
                    size += count
        finally:
            os.close(fd)
    except OSError as error:
        return error
    return Digest(h.hexdigest()[:REVISION_CHARS], size, read_at)


def _hash_group(paths: Sequence[str]) -> list[Result]:
    """Read and hash a few files, one after the other, in this thread."""
    return [_hash_whole(path) for path in paths]


def _hash_chunk(fd: int, buffer: bytearray, h: Any) -> int:
    """Read one chunk into ``buffer`` and hash it, in one worker-thread hop."""
    with memoryview(buffer) as view:
        count = os.readv(fd, [view])
        h.update(view[:count])
    return count


_hash_group_async = aiofiles.os.wrap(_hash_group)
_hash_chunk_async = aiofiles.os.wrap(_hash_chunk)
_open_async = aiofiles.os.wrap(_open_regular)
_close_async = aiofiles.os.wrap(os.close)


async def _hash_stream(path: str) -> Result:
    # One hop per chunk that both reads and hashes: the loop never touches
    # the bytes, and one reused buffer bounds memory to a chunk per file.
    read_at = time.time_ns()
    try:
        fd, st = await _open_async(path)
        try:
            h = hashlib.sha256()
            buffer = bytearray(min(CHUNK, st.st_size + 1))
            size = 0
            while count := await _hash_chunk_async(fd, buffer, h):
                size += count
        finally:
            await _close_async(fd)
    except OSError as error:
        return error
    return Digest(h.hexdigest()[:REVISION_CHARS], size, read_at)


Deliver = Callable[[list["Result | int"], int], None]


def _small_loop(
    paths: Sequence[str],
    known: Mapping[str, Digest] | None,
    deliver: Deliver,
    stopped: threading.Event,
) -> None:
    """Hash every small file, batch after batch, in this worker thread."""
    buffer = bytearray(INLINE_MAX + 1)
    later = CACHED_BATCH_FILES if known else BATCH_FILES
    start, size = 0, FIRST_BATCH_FILES
    while start < len(paths) and not stopped.is_set():
        batch = paths[start : start + size]
        deliver(_hash_batch(batch, known, buffer), start)
        start, size = start + len(batch), later


async def hash_files(
    paths: Sequence[str],
    cache: RevisionCache | None = None,
    on_done: Callable[[int], None] | None = None,
) -> list[Result]:
    """Read and hash files concurrently, without blocking the event loop.

    Small files are read in batches by one worker thread, which goes from
    batch to batch without waiting for the event loop (views render there
    meanwhile). Files the cache vouches for are only stat-ed, not read.
    Larger files found on the way go to at most ``WORKERS`` hashers, so open
    files and memory stay bounded.

    Args:
        paths: the files, in bundle order.
        cache: a debug-mode cache of earlier digests, or ``None``.
        on_done: called with the number of files finished, as they finish.

    Returns:
        One result per path, in order: a :class:`Digest` (a ``(revision,
        size)`` pair for small files when there is no cache), or the
        ``OSError`` reading that file raised (the caller decides what it
        means).
    """
    results: list[Result | None] = [None] * len(paths)
    known = cache.known if cache is not None else None
    waiting: list[tuple[int, int]] = []  # a heap of (-size, index): largest first
    wake = asyncio.Event()
    listing = True
    stopped = threading.Event()
    loop = asyncio.get_running_loop()

    def arrived(deferred: list[tuple[int, int]], count: int) -> None:
        for item in deferred:
            heapq.heappush(waiting, item)
        if on_done is not None and count:
            on_done(count)
        wake.set()

    def deliver(batch: list[Result | int], start: int) -> None:
        # In the worker thread: results go straight into their slots; larger
        # files and progress go to the event loop.
        deferred = []
        for index, result in enumerate(batch, start):
            if isinstance(result, int):
                deferred.append((-result, index))
            else:
                results[index] = result
        if not stopped.is_set():
            loop.call_soon_threadsafe(arrived, deferred, len(batch) - len(deferred))

    async def small() -> None:
        nonlocal listing
        try:
            await asyncio.to_thread(_small_loop, paths, known, deliver, stopped)
        finally:
            # Cancelled: the thread stops after the batch it is on.
            stopped.set()
            listing = False
            wake.set()

    async def hasher() -> None:
        while waiting or listing:
            if not waiting:
                wake.clear()
                await wake.wait()
                continue
            negative_size, index = heapq.heappop(waiting)
            if -negative_size > STREAM_MIN:
                results[index] = await _hash_stream(paths[index])
                arrived([], 1)
                continue
            group, total = [index], -negative_size
            while waiting and total - waiting[0][0] <= GROUP_BYTES:
                negative_size, index = heapq.heappop(waiting)
                group.append(index)
                total -= negative_size
            for index, result in zip(
                group, await _hash_group_async([paths[i] for i in group]), strict=True
            ):
                results[index] = result
            arrived([], len(group))

    await gather_or_cancel(small(), *(hasher() for _ in range(WORKERS)))
    return cast("list[Result]", results)  # every index was filled above
