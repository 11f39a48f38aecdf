"""A second process that hashes and ``stat``s small files: both cores on many files.

Threads cannot share the work of many small files: each file is a handful
of short system calls and a hash of a few KiB, and two threads doing that
spend their time handing the GIL back and forth (measured: 83 ms against
74 ms serial for 5,000 files of 1-8 KiB). A second interpreter has its own
GIL. It is a fresh ``python -I -S`` (never a fork of the app, which may hold
locks in other threads), running :mod:`quart_appcache.smallfiles`, which
imports only the standard library (and is handed its code compiled): it is
ready in about 10 ms, so it is started while the folders are still being
listed, once a listing has found ``START_AT`` files; a small app never
starts one.

The helper is an optimisation, never a dependency: if it cannot start, dies,
answers garbage or does not answer within ``ANSWER_SECONDS``, it is killed,
the work it held is done in this process, and it is not used again (the
reason is logged once, at debug level).
"""

from __future__ import annotations

import _thread
import collections
import contextlib
import fcntl
import functools
import importlib.abc
import logging
import marshal
import os
import select
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, NoReturn, TypeVar

from .smallfiles import SmallResult, Stamp

__all__ = ["IN_FLIGHT", "START_AT", "Helper", "HelperGone", "Pending", "available"]

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
# Batches a caller sends ahead of the answer it waits for: the helper works
# on the next while this process (which may wait several milliseconds for
# the GIL) takes the answer and sends another.
IN_FLIGHT = 2
# The capacity asked for the pipes to and from the helper (Linux gives an
# unprivileged process up to 1 MiB), and the most one read takes.
PIPE_BYTES = 1024 * 1024
T = TypeVar("T")


# What the helper runs first: it reads the code to run from its stdin, so
# that it compiles nothing (~1 ms of its start).
_BOOT = "import marshal,sys;exec(marshal.loads(sys.stdin.buffer.read(int(sys.argv[1]))))"


@functools.cache
def _code() -> bytes:
    """The code the helper runs: :mod:`~quart_appcache.smallfiles`, compiled
    (taken from its cached bytecode, as imports do), marshaled; made once
    per process."""
    from . import smallfiles

    spec = smallfiles.__spec__
    code = None
    if spec is not None and isinstance(spec.loader, importlib.abc.InspectLoader):
        code = spec.loader.get_code(spec.name)
    if code is None:
        code = compile(_SOURCE.read_text(encoding="utf-8"), str(_SOURCE), "exec")
    return marshal.dumps(code)


class HelperGone(Exception):
    """The helper process is not there to answer (it exited or never started)."""


def available() -> bool:
    """Whether this interpreter can start a copy of itself to help."""
    # A frozen app's executable is the app itself, not a Python to run -c with.
    return bool(sys.executable) and not getattr(sys, "frozen", False) and _SOURCE.is_file()


class Pending(Generic[T]):
    """The answer to one request sent to the helper, once it is back."""

    def __init__(self, helper: Helper, convert: Callable[[Any], T]) -> None:
        # Weakly: requests in flight, held by the thread that reads answers,
        # must not keep an unused helper (and its process) alive.
        self._helper = weakref.ref(helper)
        self._convert = convert
        self._value: Any = None
        self.done = False

    def settle(self, value: Any) -> None:
        """The answer arrived (as it crossed the pipe)."""
        self._value, self.done = value, True

    def answer(self) -> T:
        """The answer as the request's method returns it.

        Raises:
            ValueError, TypeError, IndexError: it is not an answer to this request.
        """
        return self._convert(self._value)

    def wait(self) -> T:
        """Block until the answer is back, and return it.

        Raises:
            HelperGone: the process went before answering; do the work here.
        """
        helper = self._helper()
        if helper is None:
            raise HelperGone("closed")
        return helper._wait(self)


class _Answers:
    """The requests waiting for answers, and the thread that reads them.

    The thread alone reads the helper's output, as soon as it is written:
    the helper is never stuck writing an answer (larger than the pipe)
    while this process is stuck writing a request. It holds no reference to
    the :class:`Helper`, which is then collected (and its process killed)
    when no longer used.
    """

    def __init__(self) -> None:
        self.changed = threading.Condition(threading.Lock())
        self.waiting: collections.deque[Pending[Any]] = collections.deque()
        self.broken: BaseException | None = None

    def read(self, process: subprocess.Popen[bytes]) -> None:
        """Settle the waiting requests, oldest first, as answers arrive,
        until the helper's output ends; then make sure it is gone, and reap
        it (the thread's loop)."""
        inbox = bytearray()
        stdout = process.stdout
        assert stdout is not None
        try:
            with stdout:
                while chunk := os.read(stdout.fileno(), PIPE_BYTES):
                    inbox += chunk
                    answers = []
                    while len(inbox) >= 8 and len(inbox) >= 8 + (
                        size := int.from_bytes(inbox[:8], "little")
                    ):
                        answers.append(marshal.loads(inbox[8 : 8 + size]))
                        del inbox[: 8 + size]
                    with self.changed:
                        for answer in answers:
                            if not self.waiting:
                                raise ValueError("an answer to no request")
                            self.waiting.popleft().settle(answer)
                        self.changed.notify_all()
                raise EOFError("the helper closed its output")
        except (OSError, EOFError, ValueError, TypeError) as error:
            with self.changed:
                self.broken = error
                self.changed.notify_all()
        finally:
            _end(process, close=False)


class Helper:
    """One helper process.

    :meth:`start` may be called from any thread. Requests are answered in the
    order they were sent, from any thread: :meth:`send_hash` and
    :meth:`send_check` return at once, so the next request can go before an
    answer is back and the helper never waits for this process between two.
    Waiting for an answer blocks, so callers run it in a worker thread.
    """

    def __init__(self) -> None:
        self._answers = _Answers()
        # Guards the process and the queue of requests; never held while
        # blocking, except to give the helper up.
        self._lock = self._answers.changed
        self._sending = threading.Lock()  # one request written at a time
        self._process: subprocess.Popen[bytes] | None = None
        self.failed: str | None = None

    @property
    def started(self) -> bool:
        """Whether a process was started and has not failed."""
        return self._process is not None and self.failed is None

    def start(self) -> None:
        """Start the process (once; a failure is remembered, not raised)."""
        if self._process is not None or self.failed is not None:
            return
        with self._lock:
            if self._process is not None or self.failed is not None:
                return
            try:
                code = _code()
                process = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _BOOT, str(len(code))],
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
            except (OSError, ImportError, subprocess.SubprocessError, ValueError) as error:
                self._fail(f"it could not start: {error}")
                return
            # Gone with this object, or at exit, whichever comes first.
            weakref.finalize(self, _end, process)
            try:
                self._prepare(process, code)
                # Not threading.Thread, whose start() waits until the new
                # thread has run: a wait for the GIL, milliseconds while
                # views render.
                _thread.start_new_thread(self._answers.read, (process,))
            except (OSError, RuntimeError) as error:  # (RuntimeError: no thread to be had)
                assert process.stdout is not None
                process.stdout.close()
                _end(process)
                self._fail(f"it could not start: {error}")
                return
            self._process = process

    @staticmethod
    def _prepare(process: subprocess.Popen[bytes], code: bytes) -> None:
        """Hand a new helper its code, and set up the pipes."""
        assert process.stdin is not None
        assert process.stdout is not None
        view = memoryview(code)
        while view:  # (into an empty pipe: a few KiB never block)
            view = view[os.write(process.stdin.fileno(), view) :]
        # Writes never block: a stopped helper is found by _ready's deadline.
        os.set_blocking(process.stdin.fileno(), False)
        for pipe in (process.stdin, process.stdout):
            # A request or answer in one write: each wait for room costs a
            # wait for the GIL after it, milliseconds here.
            with contextlib.suppress(OSError, AttributeError):  # (not Linux, or over a limit)
                fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)

    def hash(self, paths: Sequence[str]) -> tuple[int, list[SmallResult]]:
        """``(read_at_ns, results)`` as :func:`~quart_appcache.smallfiles.hash_small`
        gives them, errors rebuilt as ``OSError`` naming the path.

        Raises:
            HelperGone: the process is not there; hash the files here.
        """
        return self.send_hash(paths).wait()

    def check(
        self, paths: Sequence[str], stamps: Sequence[Stamp | None]
    ) -> list[Stamp | OSError | None]:
        """Per path, ``None`` when the file's ``(size, mtime_ns, ctime_ns,
        inode)`` is the stamp given for it, else its stamp, or the ``OSError``
        (naming the path).

        Raises:
            HelperGone: the process is not there; ``stat`` the files here.
        """
        return self.send_check(paths, stamps).wait()

    def send_hash(self, paths: Sequence[str]) -> Pending[tuple[int, list[SmallResult]]]:
        """Ask for :meth:`hash` now; its answer waits in the returned object.

        Raises:
            HelperGone: the process is not there; hash the files here.
        """

        def answer(value: Any) -> tuple[int, list[SmallResult]]:
            read_at, results = value
            _check_length(results, paths)
            return read_at, [_error(item, path) for item, path in zip(results, paths, strict=True)]

        return self._send(("hash", list(paths)), answer)

    def send_check(
        self, paths: Sequence[str], stamps: Sequence[Stamp | None]
    ) -> Pending[list[Stamp | OSError | None]]:
        """Ask for :meth:`check` now; its answer waits in the returned object.

        Raises:
            HelperGone: the process is not there; ``stat`` the files here.
        """

        def answer(value: Any) -> list[Stamp | OSError | None]:
            _check_length(value, paths)
            return [
                item if item is None or len(item) == 4 else OSError(item[0], item[1], path)
                for item, path in zip(value, paths, strict=True)
            ]

        return self._send(("check", (list(paths), list(stamps))), answer)

    def _send(self, request: Any, convert: Callable[[Any], T]) -> Pending[T]:
        frame = marshal.dumps(request)
        view = memoryview(len(frame).to_bytes(8, "little") + frame)
        with self._sending:
            with self._lock:
                self._live()
                pending = Pending(self, convert)
                self._answers.waiting.append(pending)
            while True:
                # Written under the lock, so never to a pipe closed meanwhile;
                # waited for room without it.
                with self._lock:
                    stdin = self._live().stdin
                    assert stdin is not None
                    try:
                        if self._answers.broken is not None:
                            raise self._answers.broken
                        view = view[_write(stdin.fileno(), view) :]
                    except (OSError, EOFError, ValueError, TypeError) as error:
                        self._broken(error)
                    if not view:
                        return pending
                try:
                    _ready(stdin.fileno(), select.POLLOUT)
                except (OSError, ValueError) as error:  # (ValueError: closed meanwhile)
                    with self._lock:
                        self._live()
                        self._broken(error)

    def _wait(self, pending: Pending[T]) -> T:
        answers = self._answers
        with self._lock:
            if not answers.changed.wait_for(
                lambda: pending.done or answers.broken is not None or self.failed is not None,
                ANSWER_SECONDS,
            ):
                self._broken(TimeoutError(f"no answer within {ANSWER_SECONDS:g} s"))
            if not pending.done:
                self._live()
                assert answers.broken is not None
                self._broken(answers.broken)
            try:
                return pending.answer()
            except (ValueError, TypeError, IndexError) as error:
                self._broken(error)

    def _live(self) -> subprocess.Popen[bytes]:
        if self._process is None or self.failed is not None:
            raise HelperGone(self.failed or "not started")
        return self._process

    def _broken(self, error: BaseException) -> NoReturn:
        """Give the helper up (holds the lock)."""
        code = self._process.poll() if self._process is not None else None
        self._fail(f"it stopped answering ({error!r}, exit code {code})")
        raise HelperGone(self.failed) from error

    def _fail(self, reason: str) -> None:
        if self.failed is None:
            self.failed = reason
            logger.debug(
                "quart_appcache: hashing in this process only: the helper process %s", reason
            )
        self._stop()

    def close(self) -> None:
        """Stop the process; safe from any thread, at any time, and quick:
        the process is killed, and reaped by the thread that reads its
        answers as soon as it is gone."""
        with self._lock:
            self.failed = self.failed or "closed"
            self._stop()
            self._lock.notify_all()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            _end(process, reap=False)


def _end(process: subprocess.Popen[bytes], *, reap: bool = True, close: bool = True) -> None:
    """Kill (it holds nothing worth a graceful exit) and, unless told not
    to, reap it and close the pipe to it. The pipe from it belongs to the
    thread that reads answers: it ends at once, since a killed process
    writes nothing more, and reaps it."""
    if process.returncode is None:
        with contextlib.suppress(OSError):
            process.kill()
    if close and process.stdin is not None:
        with contextlib.suppress(OSError):  # a broken pipe
            process.stdin.close()
    if reap:
        process.wait()


def _ready(fd: int, event: int) -> None:
    """Wait until the pipe is ready, at most ``ANSWER_SECONDS``."""
    # poll, not select: a busy server's pipes may be numbered past 1024.
    poller = select.poll()
    poller.register(fd, event)
    if not poller.poll(ANSWER_SECONDS * 1000):
        raise TimeoutError(f"no answer within {ANSWER_SECONDS:g} s")


def _write(fd: int, data: memoryview) -> int:
    try:
        return os.write(fd, data)
    except BlockingIOError:
        return 0


def _check_length(results: Any, paths: Sequence[str]) -> None:
    if len(results) != len(paths):
        raise ValueError("an answer of the wrong length")


def _error(item: Any, path: str) -> SmallResult:
    # An error crossed as (errno, strerror); a revision as (str, int).
    if type(item) is tuple and type(item[0]) is int:
        return OSError(item[0], item[1], path)
    return item  # type: ignore[no-any-return]
