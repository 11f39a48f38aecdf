"""File revisions: files read concurrently from disk and hashed off the event loop.

Three shapes of work, all run in the thread pool that aiofiles uses, each with
a bounded number of open files and bounded memory:

* Small files (up to 64 KiB) are opened, read into a reused buffer and
  hashed in batches, one thread hop per batch, with no ``fstat``: building
  a ``stat_result`` per file cost a sixth of the batch (one read one byte
  larger than 64 KiB tells a small file from a larger one). A hop costs
  26-80 us here; paying three (open, read, close) per 4 KiB file makes a
  5,000-file tree twelve times slower than a plain loop. Batches run one at
  a time: two
  threads doing short syscalls and hashing small buffers fight over the GIL
  and end up slower than one (measured: 83 ms against 74 ms serial for the
  5,000-file tree).
* Larger files, found by that read, go to ``WORKERS`` hashers that
  always take the largest file waiting: hashlib releases the GIL on large
  buffers, so they use every core while the batches go on (measured: the
  300 MiB tree in 0.6x the time of a one-thread loop). Each reads the whole
  file in one hop, through a per-thread 1 MiB buffer.
* Huge files (over 64 MiB) stream in 1 MiB chunks, one hop per chunk, so a
  cancelled computation does not wait for a whole huge file.

Files are opened with ``O_NONBLOCK``, so a file swapped for a FIFO after
listing cannot hang a worker, and must be able to seek, so a FIFO or socket
is never read; a read that returns nothing, or more than a small file holds
(a device), is checked with ``fstat`` and refused unless the file is
regular.

In debug mode a :class:`RevisionCache` remembers each file's digest and when
it was read. The next computation ``stat``s the file and trusts the digest
when the size matches and both mtime and ctime are older than the read by
``RACY_NS`` (so no same-size rewrite can hide in the filesystem's timestamp
granularity; ctime moves on every write and ``touch``, and on Linux's
filesystems on a rename too, and cannot be set back). That ``stat`` (size,
mtime, ctime, inode) is then kept, and from then on must match exactly. A
file that is not trusted is read again.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import os
import stat
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import aiofiles
import aiofiles.os

from .tasks import gather_or_cancel

__all__ = ["Digest", "Hashed", "RevisionCache", "Stamp", "hash_files", "revision_of"]

# Up to this size a file is hashed inline in its batch: hashing it is cheaper
# than handing it to another thread.
INLINE_MAX = 64 * 1024
# Over this size a file streams one chunk per hop (see the module docstring).
STREAM_MIN = 64 * 1024 * 1024
# A hasher takes the largest waiting files together, up to this many bytes per
# hop: a hop per file of the 300 MiB tree left the cores idle between hops.
GROUP_BYTES = 8 * 1024 * 1024
# Files per batch: enough that hops cost little next to the work (5 hops for
# 5,000 files), few enough that the progress bar moves. The first batch is
# smaller, so the hashers of larger files start within a millisecond rather
# than after the whole first batch.
BATCH_FILES = 1024
FIRST_BATCH_FILES = 64
# Files per batch when most are only stat-ed against the debug cache: a stat
# costs a tenth of a read, so batches of 1,024 spent a tenth of their time
# on the hops between them.
CACHED_BATCH_FILES = 4096
CHUNK = 1024 * 1024
# Larger files hashed at once: one per core (hashing releases the GIL).
WORKERS = max(2, os.cpu_count() or 2)
# A timestamp this close to the moment a file was read may hide a same-size
# rewrite inside the filesystem's timestamp granularity (2 s on FAT), so
# such a file is read again next time rather than trusted.
RACY_NS = 2_000_000_000
# A revision is 128 bits of the SHA-256: plenty against collisions, and
# short in manifests (the worker checks bytes against the same prefix).
REVISION_CHARS = 32
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC

Stamp = tuple[int, int, int, int]
"""``(size, mtime_ns, ctime_ns, inode)`` of a file."""


def revision_of(data: bytes | bytearray | memoryview) -> str:
    """The revision string of some content: a truncated SHA-256 hex digest."""
    return hashlib.sha256(data).hexdigest()[:REVISION_CHARS]


# Not frozen: a frozen dataclass's __init__ costs three times as much, and
# one is made per file of the tree; ``stamp`` is set once, by the check that
# first trusts the digest.
@dataclass(slots=True, eq=False)
class Digest:
    """A file's revision and size, when it was read, and, once a later
    ``stat`` showed it unchanged since before that read, that ``stat``."""

    revision: str
    size: int
    read_at_ns: int
    stamp: Stamp | None = None
    # What the caller made of this digest (the bundle's entry), kept with it:
    # an unchanged file then gives back the very same entry, and an
    # unchanged bundle is recognised without computing its version again.
    made: Any = None

    def unchanged(self, st: os.stat_result) -> bool:
        """Whether the file that ``st`` describes still has this digest.

        The first time, the file must have the same size, and both its
        timestamps must be older than the read by ``RACY_NS``; its stamp is
        then kept. Later, the stamp must match exactly.
        """
        stamp = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        if self.stamp is not None:
            return stamp == self.stamp
        settled = self.read_at_ns - RACY_NS
        if st.st_size == self.size and st.st_mtime_ns < settled and st.st_ctime_ns < settled:
            self.stamp = stamp
            return True
        return False


Hashed = tuple[str, int]
"""``(revision, size)`` of a file read when nothing is cached (no stamp kept)."""
Result = Digest | Hashed | OSError


class RevisionCache:
    """Digests of files seen before, by path (debug mode)."""

    def __init__(self) -> None:
        self.known: dict[str, Digest] = {}

    def replace(self, known: dict[str, Digest]) -> None:
        """Keep exactly these files (forgetting deleted ones)."""
        self.known = known


def _open(path: str) -> int:
    """Open a file to hash (one place, so tests can count what is opened)."""
    return os.open(path, _OPEN_FLAGS)


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


def _hash_batch(
    paths: Sequence[str], known: Mapping[str, Digest] | None, digests: bool = True
) -> list[Result | int]:
    """Hash small files in one worker thread.

    Args:
        paths: the files.
        known: earlier digests to trust when the files are unchanged.
        digests: return :class:`Digest` objects, which a cache can keep;
            otherwise plain ``(revision, size)`` pairs, which cost less
            (one per file of the tree).

    Returns, per path: a digest, the ``OSError`` it raised, or, for a file
    larger than ``INLINE_MAX``, its size (to be hashed elsewhere).
    """
    # One timestamp for the whole batch: taken before any read, it can only
    # make the racy-timestamp rule stricter.
    read_at = time.time_ns()
    results: list[Result | int] = []
    append = results.append
    # Local names: this loop runs once per file of the tree.
    sha256, readv, seek, close, fstat, is_regular, stat_ = (
        hashlib.sha256,
        os.readv,
        os.lseek,
        os.close,
        os.fstat,
        stat.S_ISREG,
        os.stat,
    )
    open_ = _open
    # One buffer for the batch (a bytes object per read costs a malloc), one
    # byte larger than a small file: a full read means a larger file.
    buffer = bytearray(INLINE_MAX + 1)
    with memoryview(buffer) as view:
        into = [view]
        for path in paths:
            try:
                if known is not None:
                    cached = known.get(path)
                    if cached is not None:
                        st = stat_(path)
                        # Digest.unchanged, inlined for the common case.
                        stamp = cached.stamp
                        if (
                            stamp is not None
                            and stamp == (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
                        ) or (stamp is None and cached.unchanged(st)):
                            append(cached)
                            continue
                fd = open_(path)
                try:
                    try:
                        # Cheaper than an fstat: a FIFO or socket swapped in
                        # since the listing cannot seek (ESPIPE).
                        seek(fd, 0, os.SEEK_CUR)
                    except OSError:
                        raise OSError(f"{path!r} is no longer a regular file") from None
                    count = readv(fd, into)
                    if count == 0 or count > INLINE_MAX:
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
            revision = sha256(view[:count]).hexdigest()[:REVISION_CHARS]
            append(Digest(revision, count, read_at) if digests else (revision, count))
    return results


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


_hash_batch_async = aiofiles.os.wrap(_hash_batch)
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


async def hash_files(
    paths: Sequence[str],
    cache: RevisionCache | None = None,
    on_done: Callable[[int], None] | None = None,
) -> list[Result]:
    """Read and hash files concurrently, without blocking the event loop.

    Files the cache vouches for are only stat-ed, not read. One batch and at
    most ``WORKERS`` larger files are in flight at once, which bounds both
    open files and memory.

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

    def done(count: int) -> None:
        if on_done is not None and count:
            on_done(count)

    async def batches() -> None:
        nonlocal listing
        try:
            # With known files, the batches mostly stat; without, read.
            later = CACHED_BATCH_FILES if known else BATCH_FILES
            start, size = 0, FIRST_BATCH_FILES
            while start < len(paths):
                batch = await _hash_batch_async(
                    paths[start : start + size], known, cache is not None
                )
                deferred = 0
                for index, result in enumerate(batch, start):
                    if isinstance(result, int):
                        heapq.heappush(waiting, (-result, index))
                        deferred += 1
                    else:
                        results[index] = result
                done(len(batch) - deferred)
                wake.set()
                start, size = start + size, later
        finally:
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
                done(1)
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
            done(len(group))

    await gather_or_cancel(batches(), *(hasher() for _ in range(WORKERS)))
    return cast("list[Result]", results)  # every index was filled above
