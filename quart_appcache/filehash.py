"""File revisions: files read concurrently from disk and hashed off the event loop.

Three shapes of work, all run in the thread pool that aiofiles uses, each with
a bounded number of open files and bounded memory:

* Small files (up to 64 KiB) are opened, read into a reused buffer and
  hashed in batches by one worker thread that goes from batch to batch by
  itself, with no ``fstat``: building a ``stat_result`` per file cost a
  sixth of the batch (one read one byte larger than 64 KiB tells a small
  file from a larger one). A hop costs 26-80 us here; paying three (open,
  read, close) per 4 KiB file makes a 5,000-file tree twelve times slower
  than a plain loop. A second thread would not help: two threads doing
  short syscalls and hashing small buffers fight over the GIL and end up
  slower than one (83 ms against 74 ms for the 5,000-file tree). A helper
  process (:mod:`quart_appcache.helper`) has its own GIL: when one runs,
  it takes batches from the end of the list while this process takes
  them from the front.
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
import collections
import hashlib
import heapq
import os
import stat
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import aiofiles
import aiofiles.os

from .helper import IN_FLIGHT, Helper, HelperGone, Pending
from .prefetch import Prefetch
from .smallfiles import INLINE_MAX, REVISION_CHARS, SmallResult, Stamp, hash_small, open_file
from .tasks import gather_or_cancel

__all__ = [
    "Digest",
    "Hashed",
    "Result",
    "RevisionCache",
    "Stamp",
    "hash_files",
    "prefetcher",
    "revision_of",
]

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
# While a helper process shares the work, the fewest files one side takes
# at once (see _Claims.share).
HELPER_MIN_FILES = 128
# ... and the helper takes this fraction of what is left: with IN_FLIGHT
# batches sent ahead, a sixth (not a third) ends both sides within a
# millisecond of each other (measured: 1 ms apart, not 4).
SHARE_DIV = 6
CHUNK = 1024 * 1024
# Larger files hashed at once: one per core (hashing releases the GIL).
WORKERS = max(2, os.cpu_count() or 2)
# A timestamp this close to the moment a file was read may hide a same-size
# rewrite inside the filesystem's timestamp granularity (2 s on FAT), so
# such a file is read again next time rather than trusted.
RACY_NS = 2_000_000_000


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


class RevisionCache:
    """Digests of files seen before, by path (debug mode)."""

    def __init__(self) -> None:
        self.known: dict[str, Digest] = {}

    def replace(self, known: dict[str, Digest]) -> None:
        """Keep exactly these files (forgetting deleted ones)."""
        self.known = known


# Every open here goes through this name, so tests can count what is opened.
_open = open_file


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
    buffer = bytearray(INLINE_MAX + 1)
    if known is None:
        return _made(hash_small(paths, buffer, _open), read_at, digests)
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
        read = hash_small([paths[index] for index in unread], buffer, _open)
        for index, result in zip(unread, _made(read, read_at, digests), strict=True):
            results[index] = result
    return cast("list[Result | int]", results)  # every index was filled above


def _made(results: list[SmallResult], read_at: int, digests: bool) -> list[Result | int]:
    """Small-file results as :func:`_hash_batch` returns them."""
    if not digests:
        return cast("list[Result | int]", results)
    return [
        Digest(result[0], result[1], read_at) if type(result) is tuple else result
        for result in results
    ]


def _send_batch(
    helper: Helper, paths: Sequence[str], known: Mapping[str, Digest] | None, digests: bool
) -> Callable[[], list[Result | int]]:
    """Send the helper process one batch: what :func:`_hash_batch` does, with
    the reads (or ``stat``s) done there. The returned function waits for the
    answer and returns the results.

    Raises (both):
        HelperGone: the helper is not there; the batch has no results.
    """
    if not known:
        hashing = helper.send_hash(paths)

        def hashed() -> list[Result | int]:
            read_at, read = hashing.wait()
            return _made(read, read_at, digests)

        return hashed
    # The helper compares stamps: an unchanged file crosses as None.
    cached = [known.get(path) for path in paths]
    checking = helper.send_check(
        paths, [None if digest is None else digest.stamp for digest in cached]
    )
    return partial(_checked, helper, paths, cached, checking, digests)


def _checked(
    helper: Helper,
    paths: Sequence[str],
    cached: list[Digest | None],
    checking: Pending[list[Stamp | OSError | None]],
    digests: bool,
) -> list[Result | int]:
    """The results of a batch of known files the helper checks: a file
    whose stamp does not vouch for its digest (few, between two debug-mode
    requests) is read by the helper too."""
    results: list[Result | int | None] = [None] * len(paths)
    unread: list[int] = []
    for index, (digest, stamp) in enumerate(zip(cached, checking.wait(), strict=True)):
        if stamp is None:
            results[index] = digest
        elif isinstance(stamp, OSError):
            results[index] = stamp
        elif digest is not None and digest.stamp is None and digest.unchanged(stamp):
            results[index] = digest
        else:
            unread.append(index)
    if unread:
        read_at, read = helper.hash([paths[index] for index in unread])
        for index, result in zip(unread, _made(read, read_at, digests), strict=True):
            results[index] = result
    return cast("list[Result | int]", results)  # every index was filled above


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


class _Claims:
    """The small files still to hash, as positions in a list of indexes:
    this process takes batches from its front, a helper process from its
    back."""

    def __init__(self, count: int, sharing: bool) -> None:
        self._lock = threading.Lock()
        self.front, self.back = 0, count
        self.sharing = sharing
        self.stopped = False

    def take_front(self, size: int) -> tuple[int, int] | None:
        with self._lock:
            if self.stopped or self.front >= self.back:
                return None
            start, self.front = self.front, min(self.back, self.front + size)
            return start, self.front

    def take_back(self) -> tuple[int, int] | None:
        with self._lock:
            if self.stopped or self.front >= self.back:
                return None
            stop, self.back = self.back, max(self.front, self.back - self.share())
            return self.back, stop

    def share(self) -> int:
        """How many files the helper takes next: a sixth of what is left, so
        few batches while much is left, and a short wait at the end for
        whichever side finishes last."""
        return max(HELPER_MIN_FILES, (self.back - self.front) // SHARE_DIV)


Deliver = Callable[[list["Result | int"], Sequence[int]], None]


def prefetcher(helper: Helper, cache: RevisionCache | None) -> Prefetch:
    """A :class:`~quart_appcache.prefetch.Prefetch` that has ``helper`` do
    files as :func:`hash_files` with ``cache`` would: hashed, or, when the
    cache knows them, checked by their ``stat``."""
    known = cache.known if cache is not None else None
    return Prefetch(helper, partial(_send_batch, helper, known=known, digests=cache is not None))


@dataclass(frozen=True)
class _Batches:
    """The small files of one :func:`hash_files` call, shared by its loops."""

    paths: Sequence[str]
    order: Sequence[int]  # the indexes still to do, in the order claims take them
    claims: _Claims
    known: Mapping[str, Digest] | None
    digests: bool
    deliver: Deliver

    def here(self, indexes: Sequence[int]) -> None:
        """Do these files in this process (this worker thread)."""
        paths = [self.paths[i] for i in indexes]
        self.deliver(_hash_batch(paths, self.known, self.digests), indexes)


def _front_loop(work: _Batches) -> None:
    """Hash batches from the front until none are left (one worker thread)."""
    # With known files, the batches mostly stat; without, read.
    later = CACHED_BATCH_FILES if work.known else BATCH_FILES
    size = FIRST_BATCH_FILES
    while (claim := work.claims.take_front(size)) is not None:
        work.here(work.order[claim[0] : claim[1]])
        size = HELPER_MIN_FILES if work.claims.sharing else later


def _back_loop(
    work: _Batches, helper: Helper | None, prefetched: tuple[Prefetch, Sequence[int]] | None
) -> None:
    """Have the helper do batches from the back until none are left, and take
    what it did while the walk went on (one worker thread). ``IN_FLIGHT``
    batches are sent ahead, so it works on one while this thread, waiting
    for the GIL, takes the answer of another. If it goes, do the batches it
    held here and leave the rest to the front."""
    sent: collections.deque[tuple[Sequence[int], Callable[[], list[Result | int]]]]
    sent = collections.deque()

    def send_more(helper: Helper | None) -> Helper | None:
        while (
            helper is not None
            and len(sent) < IN_FLIGHT
            and (claim := work.claims.take_back()) is not None
        ):
            indexes = work.order[claim[0] : claim[1]]
            try:
                paths = [work.paths[i] for i in indexes]
                sent.append((indexes, _send_batch(helper, paths, work.known, work.digests)))
            except HelperGone:
                work.here(indexes)
                return None
        return helper

    # Sent first: the helper goes on while its batches from the walk come back.
    helper = send_more(helper)
    if prefetched is not None:
        prefetch, indexes = prefetched
        found = prefetch.results()
        done: list[int] = []
        missing: list[int] = []
        for index in indexes:
            (done if work.paths[index] in found else missing).append(index)
        work.deliver([found[work.paths[i]] for i in done], done)
        if missing:
            work.here(missing)
    while sent:
        indexes, finish = sent.popleft()
        try:
            # (Once the helper is gone, this raises at once for a batch it
            # had not answered yet.)
            results = finish()
        except HelperGone:
            helper = None
            work.here(indexes)
            continue
        work.deliver(results, indexes)
        helper = send_more(helper)


async def hash_files(
    paths: Sequence[str],
    cache: RevisionCache | None = None,
    on_done: Callable[[int], None] | None = None,
    helper: Helper | None = None,
    prefetch: Prefetch | None = None,
) -> list[Result]:
    """Read and hash files concurrently, without blocking the event loop.

    Small files are read in batches by one worker thread, which goes from
    batch to batch without waiting for the event loop (views render there
    meanwhile); a started ``helper`` process takes batches from the end of
    the list at the same time. Files the cache vouches for are only stat-ed,
    not read. Larger files found on the way go to at most ``WORKERS``
    hashers, so open files and memory stay bounded.

    Args:
        paths: the files, in bundle order.
        cache: a debug-mode cache of earlier digests, or ``None``.
        on_done: called with the number of files finished, as they finish.
        helper: a helper process to share the small files with, or ``None``.
        prefetch: the files the helper took while they were being listed
            (from :func:`prefetcher` with the same cache); stopped here.

    Returns:
        One result per path, in order: a :class:`Digest` (a ``(revision,
        size)`` pair for small files when there is no cache), or the
        ``OSError`` reading that file raised (the caller decides what it
        means).
    """
    results: list[Result | None] = [None] * len(paths)
    known = cache.known if cache is not None else None
    digests = cache is not None
    waiting: list[tuple[int, int]] = []  # a heap of (-size, index): largest first
    wake = asyncio.Event()
    listing = True
    sharing = helper is not None and helper.started
    prefetched: tuple[Prefetch, Sequence[int]] | None = None
    order: Sequence[int] = range(len(paths))
    taken = prefetch.stop() if prefetch is not None else []
    if prefetch is not None and taken:
        if paths[: len(taken)] == taken:  # (one folder: the walk's order; a C-level check)
            order = range(len(taken), len(paths))
            prefetched = (prefetch, range(len(taken)))
        else:
            took = set(taken)
            order = [index for index, path in enumerate(paths) if path not in took]
            prefetched = (prefetch, [index for index, path in enumerate(paths) if path in took])
    claims = _Claims(len(order), sharing)
    loop = asyncio.get_running_loop()

    def arrived(deferred: list[tuple[int, int]], count: int) -> None:
        for item in deferred:
            heapq.heappush(waiting, item)
        if on_done is not None and count:
            on_done(count)
        wake.set()

    def deliver(batch: list[Result | int], indexes: Sequence[int]) -> None:
        # In a worker thread: results go straight into their slots; larger
        # files and progress go to the event loop.
        deferred = []
        for index, result in zip(indexes, batch, strict=True):
            if isinstance(result, int):
                deferred.append((-result, index))
            else:
                results[index] = result
        if not claims.stopped:
            loop.call_soon_threadsafe(arrived, deferred, len(batch) - len(deferred))

    async def small() -> None:
        nonlocal listing
        try:
            work = _Batches(paths, order, claims, known, digests, deliver)
            loops = [asyncio.to_thread(_front_loop, work)]
            if sharing or prefetched is not None:
                loops.append(
                    asyncio.to_thread(_back_loop, work, helper if sharing else None, prefetched)
                )
            await gather_or_cancel(*loops)
        finally:
            # Cancelled: the threads stop after the batch they are on.
            claims.stopped = True
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
