"""Small files handed to the helper process while the walk still lists more.

The walk of a large tree takes about as long as the helper takes to start,
and views render meanwhile: the helper's core would sit idle until the walk
ends. Instead, each folder listing hands its files to a :class:`Prefetch`,
whose thread has the helper hash them (or, in debug mode, check their
``stat`` against the cache) in batches as soon as it runs. When the walk
ends, :func:`~quart_appcache.filehash.hash_files` stops it, leaves out the
files it took, and takes their results once its batch in flight is back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from .helper import Helper, HelperGone

__all__ = ["Prefetch"]

# Files per batch: a few milliseconds of the helper's time, so the batch in
# flight when the walk ends is not long waited for.
PREFETCH_FILES = 256


class Prefetch:
    """Files of one walk, done by ``helper`` while the walk goes on.

    Args:
        helper: the helper process; batches wait until it is started.
        work: does one batch through the helper, in this object's thread,
            and returns one result per file; raises ``HelperGone``.

    :meth:`add` is called from the walk's thread, :meth:`stop` from the event
    loop, :meth:`results` from a worker thread.
    """

    def __init__(self, helper: Helper, work: Callable[[Sequence[str]], list[Any]]) -> None:
        self.helper = helper
        self._work = work
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
        while True:
            with self._changed:
                self._changed.wait_for(self._ready)
                if self._stopped:
                    return
                batch = self._found[self._taken : self._taken + PREFETCH_FILES]
                self._taken += len(batch)
            try:
                results = self._work(batch)
            except HelperGone:
                return  # what it held has no result: hash_files does it itself
            self._done.append((batch, results))

    def _ready(self) -> bool:
        return self._stopped or len(self._found) - self._taken >= PREFETCH_FILES

    def stop(self) -> list[str]:
        """Take no more files; the files taken so far (done or in flight),
        in the order they were found."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
            return self._found[: self._taken]

    def results(self) -> dict[str, Any]:
        """The result per file done, once the batch in flight is back
        (blocks: call from a worker thread, after :meth:`stop`)."""
        if self._thread is not None:
            self._thread.join()
        return {
            path: result
            for batch, results in self._done
            for path, result in zip(batch, results, strict=True)
        }
