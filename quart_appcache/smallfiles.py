"""Reading and hashing small files, here and in a helper process.

This module imports nothing but the standard library, so the same source
runs in this process (:mod:`quart_appcache.filehash` calls
:func:`hash_small`) and as a helper process started with ``python -I -S``
(:mod:`quart_appcache.helper` passes this file's source to ``-c``): one copy
of the loop that decides what a small file's revision is, and what counts as
a file that cannot be read.

The helper reads requests from stdin and answers on stdout, one at a time,
each a ``marshal``-ed value behind its length (8 bytes, little-endian):

* ``("hash", paths)`` answers ``(read_at_ns, results)`` with
  :func:`hash_small`'s results, an error as ``(errno, strerror)``;
* ``("check", (paths, stamps))`` answers, per path, ``None`` when the
  file's ``(size, mtime_ns, ctime_ns, inode)`` equals the stamp given for
  it, else its stamp, an error as ``(errno, strerror)``: an unchanged tree
  answers a list of ``None``.

It exits when stdin closes: its parent went away, or was done with it.
"""

from __future__ import annotations

import hashlib
import io
import marshal

# posix rather than os (the same functions): an interpreter has it loaded
# at startup, while os costs a helper process ~2 ms to import.
import posix
import stat
import sys
import time

# typing.TYPE_CHECKING without importing typing or collections.abc: as a
# helper process, every import delays the start (these cost ~2 ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

# Up to this size a file is hashed inline in its batch: hashing it is cheaper
# than handing it to another thread.
INLINE_MAX = 64 * 1024
# A revision is 128 bits of the SHA-256: plenty against collisions, and
# short in manifests (the worker checks bytes against the same prefix).
REVISION_CHARS = 32
OPEN_FLAGS = posix.O_RDONLY | posix.O_NONBLOCK | posix.O_CLOEXEC

Stamp = tuple[int, int, int, int]
"""``(size, mtime_ns, ctime_ns, inode)`` of a file."""
SmallResult = tuple[str, int] | int | OSError
"""``(revision, size)``, the size of a larger file (hashed elsewhere), or the error."""


def open_file(path: str) -> int:
    """Open a file to hash, never blocking on a FIFO swapped in."""
    return posix.open(path, OPEN_FLAGS)


def hash_small(
    paths: Sequence[str], buffer: bytearray, open_: Callable[[str], int] = open_file
) -> list[SmallResult]:
    """Read and hash small files, one after the other, in this thread.

    Args:
        paths: the files.
        buffer: a reused buffer of ``INLINE_MAX + 1`` bytes: a full read means
            a larger file, whose size is returned instead.
        open_: opens a file for reading (tests count the calls).

    Returns, per path: ``(revision, size)``, the size of a file larger than
    ``INLINE_MAX``, or the ``OSError`` it raised (a FIFO, socket or device
    swapped in since the listing is refused, never read to the end).
    """
    results: list[SmallResult] = []
    append = results.append
    # Local names: this loop runs once per file of the tree.
    sha256, readv, seek, close, fstat, is_regular = (
        hashlib.sha256,
        posix.readv,
        posix.lseek,
        posix.close,
        posix.fstat,
        stat.S_ISREG,
    )
    with memoryview(buffer) as view:
        into = [view]
        for path in paths:
            try:
                fd = open_(path)
                try:
                    try:
                        # Cheaper than an fstat: a FIFO or socket swapped in
                        # since the listing cannot seek (ESPIPE).
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


def check(paths: Sequence[str], expected: Sequence[Stamp | None]) -> list[Stamp | OSError | None]:
    """Per path, ``None`` when the file's ``(size, mtime_ns, ctime_ns,
    inode)`` is ``expected``, else that stamp, or the error."""
    results: list[Stamp | OSError | None] = []
    append, stat_ = results.append, posix.stat
    for path, stamp in zip(paths, expected, strict=True):
        try:
            st = stat_(path)
        except OSError as error:
            append(error)
            continue
        now = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        append(None if now == stamp else now)
    return results


def _portable(result: object) -> object:
    # marshal carries no exceptions: an error crosses as (errno, strerror).
    if isinstance(result, OSError):
        return (result.errno or 0, result.strerror or str(result))
    return result


def serve() -> None:
    """Answer requests on stdin until it closes (the helper process's main loop)."""
    read, out = sys.stdin.buffer.read, sys.stdout.buffer
    buffer = bytearray(INLINE_MAX + 1)
    while len(header := read(8)) == 8:
        kind, arguments = marshal.loads(read(int.from_bytes(header, "little")))
        answer: object
        if kind == "hash":
            read_at = time.time_ns()
            answer = (read_at, [_portable(item) for item in hash_small(arguments, buffer)])
        else:
            answer = [_portable(item) for item in check(*arguments)]
        data = marshal.dumps(answer)
        out.write(len(data).to_bytes(8, "little") + data)
        out.flush()


if __name__ == "__main__":
    serve()
