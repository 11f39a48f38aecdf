"""Small files handed to the helper process while the walk still lists more.

The walk of a large tree takes about as long as the helper takes to start,
and views render meanwhile: the helper's core would sit idle until the walk
ends. Instead, each folder listing hands its files to a :class:`Prefetch`,
whose thread has the helper hash them (or, in debug mode, check their
``stat`` against the cache) in batches as soon as it runs. When the walk
ends, :func:`~quart_appcache.filehash.hash_files` stops it, leaves out the
files it took, and takes their results once its batches in flight are back
(meanwhile it sends the helper more from the rest, so the helper never waits).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Sequence
from typing import Any

from .helper import IN_FLIGHT, Helper, HelperGone

__all__ = ["Prefetch"]

# Files per batch: a few milliseconds of the helper's time, so the batches in
# flight when the walk ends are not long waited for.
PREFETCH_FILES = 256


class Prefetch:
    """Files of one walk, done by ``helper`` while the walk goes on.

    Args:
        helper: the helper process; batches wait until it is started.
        send: sends the helper one batch and returns what waits for its
            results, one per file; both raise ``HelperGone``. Up to
            ``IN_FLIGHT`` batches are sent ahead of the answers.

    :meth:`add` is called from the walk's thread, :meth:`stop` from the event
    loop, :meth:`results` from a worker thread.
    """

    def __init__(
        self, helper: Helper, send: Callable[[Sequence[str]], Callable[[], list[Any]]]
    ) -> None:
        self.helper = helper
        self._send = send
        self._changed = threading.Condition()
        self._found: list[str] = []
        self._taken = 0
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._done: list[tuple[Sequence[str], list[Any]]] = []

    def add(self, paths: Sequence[str]) -> None:
        """More files found; sent once the helper runs and a batch is full."""
        with self._changed:
            if self._stopped:
                return
            self._found.extend(paths)
            if self._thread is None and self.helper.started:
                self._thread = threading.Thread(
                    target=self._run, name="quart_appcache prefetch", daemon=True
                )
                self._thread.start()
            self._changed.notify()

    def _run(self) -> None:
        sent: collections.deque[tuple[Sequence[str], Callable[[], list[Any]]]]
        sent = collections.deque()
        while True:
            with self._changed:
                if not sent:
                    self._changed.wait_for(self._ready)
                batch: Sequence[str] = ()
                if not self._stopped and len(sent) < IN_FLIGHT and self._full():
                    batch = self._found[self._taken : self._taken + PREFETCH_FILES]
                    self._taken += len(batch)
            try:
                if batch:
                    sent.append((batch, self._send(batch)))
                    continue
                if not sent:
                    return  # stopped, and every answer is in
                batch, finish = sent.popleft()
                self._done.append((batch, finish()))
            except HelperGone:
                return  # what it held has no result: hash_files does it itself

    def _full(self) -> bool:
        return len(self._found) - self._taken >= PREFETCH_FILES

    def _ready(self) -> bool:
        return self._stopped or self._full()

    def stop(self) -> list[str]:
        """Take no more files; the files taken so far (done or in flight),
        in the order they were found."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
            return self._found[: self._taken]

    def results(self) -> dict[str, Any]:
        """The result per file done, once the batches in flight are back
        (blocks: call from a worker thread, after :meth:`stop`)."""
        if self._thread is not None:
            self._thread.join()
        return {
            path: result
            for batch, results in self._done
            for path, result in zip(batch, results, strict=True)
        }
