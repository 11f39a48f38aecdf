"""A second process that hashes and ``stat``s small files: both cores on many files.

Threads cannot share the work of many small files: each file is a handful
of short system calls and a hash of a few KiB, and two threads doing that
spend their time handing the GIL back and forth (measured: 83 ms against
74 ms serial for 5,000 files of 1-8 KiB). A second interpreter has its own
GIL. It is a fresh ``python -I -S`` (never a fork of the app, which may hold
locks in other threads), running :mod:`quart_appcache.smallfiles`, which
imports only the standard library: it is ready in about 12 ms, so it is
started while the folders are still being listed, once a listing has found
``START_AT`` files; a small app never starts one.

The helper is an optimisation, never a dependency: if it cannot start, dies,
answers garbage or does not answer within ``ANSWER_SECONDS``, it is killed,
the work it held is done in this process, and it is not used again (the
reason is logged once, at debug level).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import marshal
import os
import select
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .smallfiles import SmallResult, Stamp

__all__ = ["START_AT", "Helper", "HelperGone", "available"]

logger = logging.getLogger("quart_appcache")

# Longest wait for one answer (or for room to send a request): a helper that
# stops answering is killed, and its batch done here, rather than waited
# for forever. A batch is a few thousand small files: milliseconds, or
# seconds on a cold, slow disk.
ANSWER_SECONDS = 60.0
# Files listed before a helper is worth starting: below this, hashing them
# in this process takes about as long as the helper takes to start.
START_AT = 1000
_SOURCE = Path(__file__).with_name("smallfiles.py")


@functools.cache
def _source() -> str:
    """What the helper runs (read once per process, not per start)."""
    return _SOURCE.read_text(encoding="utf-8")


class HelperGone(Exception):
    """The helper process is not there to answer (it exited or never started)."""


def available() -> bool:
    """Whether this interpreter can start a copy of itself to help."""
    # A frozen app's executable is the app itself, not a Python to run -c with.
    return bool(sys.executable) and not getattr(sys, "frozen", False) and _SOURCE.is_file()


class Helper:
    """One helper process, used by one caller at a time.

    :meth:`start` may be called from any thread; :meth:`hash` and
    :meth:`check` block, so callers run them in a worker thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self.failed: str | None = None

    @property
    def started(self) -> bool:
        """Whether a process was started and has not failed."""
        return self._process is not None and self.failed is None

    def start(self) -> None:
        """Start the process (once; a failure is remembered, not raised)."""
        if self._process is not None or self.failed is not None:
            return  # (without the lock, which a batch in flight holds)
        with self._lock:
            if self._process is not None or self.failed is not None:
                return
            try:
                self._process = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _source()],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    bufsize=0,
                    stderr=subprocess.DEVNULL,
                    close_fds=True,
                    # Out of the terminal's process group: Ctrl+C on a dev
                    # server is for the server; the helper ends when its
                    # stdin closes, however the server ends.
                    start_new_session=True,
                )
            except (OSError, subprocess.SubprocessError, ValueError) as error:
                self._fail(f"it could not start: {error}")
                return
            assert self._process.stdin is not None
            os.set_blocking(self._process.stdin.fileno(), False)  # (a stopped helper: _send)
            # Gone with this object, or at exit, whichever comes first.
            weakref.finalize(self, _end, self._process)

    def hash(self, paths: Sequence[str]) -> tuple[int, list[SmallResult]]:
        """``(read_at_ns, results)`` as :func:`~quart_appcache.smallfiles.hash_small`
        gives them, errors rebuilt as ``OSError`` naming the path.

        Raises:
            HelperGone: the process is not there; hash the files here.
        """
        read_at, results = self._ask("hash", paths)
        return read_at, [_error(item, path) for item, path in zip(results, paths, strict=True)]

    def check(
        self, paths: Sequence[str], stamps: Sequence[Stamp | None]
    ) -> list[Stamp | OSError | None]:
        """Per path, ``None`` when the file's ``(size, mtime_ns, ctime_ns,
        inode)`` is the stamp given for it, else its stamp, or the ``OSError``
        (naming the path).

        Raises:
            HelperGone: the process is not there; ``stat`` the files here.
        """
        results = self._ask("check", paths, (list(paths), list(stamps)))
        return [
            item if item is None or len(item) == 4 else OSError(item[0], item[1], path)
            for item, path in zip(results, paths, strict=True)
        ]

    def _ask(self, kind: str, paths: Sequence[str], arguments: Any = None) -> Any:
        with self._lock:
            process = self._process
            if process is None or self.failed is not None:
                raise HelperGone(self.failed or "not started")
            stdin, stdout = process.stdin, process.stdout
            assert stdin is not None
            assert stdout is not None
            deadline = time.monotonic() + ANSWER_SECONDS
            try:
                request = marshal.dumps((kind, list(paths) if arguments is None else arguments))
                _send(stdin.fileno(), len(request).to_bytes(8, "little") + request, deadline)
                # Waited for with a deadline; then read as it is written (the
                # helper writes an answer at once): one wait per answer, not
                # one per chunk, each of which would hand the GIL back and forth.
                _ready(stdout.fileno(), select.POLLIN, deadline)
                size = int.from_bytes(_receive(stdout.fileno(), 8), "little")
                answer = marshal.loads(_receive(stdout.fileno(), size))
                if len(answer[1] if kind == "hash" else answer) != len(paths):
                    raise ValueError("an answer of the wrong length")
            except (OSError, EOFError, ValueError, TypeError, IndexError) as error:
                self._fail(f"it stopped answering ({error!r}, exit code {process.poll()})")
                raise HelperGone(self.failed) from error
            return answer

    def _fail(self, reason: str) -> None:
        self.failed = reason
        logger.debug("quart_appcache: hashing in this process only: the helper process %s", reason)
        self._stop()

    def close(self) -> None:
        """Stop the process and reap it; safe from any thread, at any time."""
        self.failed = self.failed or "closed"
        process = self._process
        if process is not None:
            # Killed first, without the lock: a batch in flight then ends at
            # once (its caller finishes the batch itself) instead of being
            # waited for.
            _kill(process)
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            _end(process)


def _kill(process: subprocess.Popen[bytes]) -> None:
    # It holds nothing worth a graceful exit: killed, it is gone at once.
    if process.poll() is None:
        with contextlib.suppress(OSError):
            process.kill()
        process.wait()


def _end(process: subprocess.Popen[bytes]) -> None:
    """Kill, reap, and close the pipes."""
    _kill(process)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):  # a broken pipe
                stream.close()


def _send(fd: int, data: bytes, deadline: float) -> None:
    view = memoryview(data)
    while view:
        _ready(fd, select.POLLOUT, deadline)
        with contextlib.suppress(BlockingIOError):
            view = view[os.write(fd, view) :]


def _receive(fd: int, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = os.read(fd, count - len(data))
        if not chunk:
            raise EOFError(f"{len(data)} of {count} bytes")
        data += chunk
    return bytes(data)


def _ready(fd: int, event: int, deadline: float) -> None:
    # poll, not select: a busy server's pipes may be numbered past 1024.
    poller = select.poll()
    poller.register(fd, event)
    left = deadline - time.monotonic()
    if left <= 0 or not poller.poll(left * 1000):
        raise TimeoutError(f"no answer within {ANSWER_SECONDS:g} s")


def _error(item: Any, path: str) -> SmallResult:
    # An error crossed as (errno, strerror); a revision as (str, int).
    if type(item) is tuple and type(item[0]) is int:
        return OSError(item[0], item[1], path)
    return item  # type: ignore[no-any-return]
