"""The plain-Python limits: what one and two threads do with no framework at all."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

CHUNK = 1024 * 1024


def _files(folder: Path) -> list[str]:
    return [
        os.path.join(directory, name)
        for directory, _, names in os.walk(folder)
        for name in sorted(names)
    ]


def _hash_all(paths: list[str]) -> None:
    # os.open and os.readv into one reused buffer, SHA-256 as the project
    # hashes: no Python file objects, no allocation per chunk.
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            h = hashlib.sha256()
            while count := os.readv(fd, [view]):
                h.update(view[:count])
            h.hexdigest()
        finally:
            os.close(fd)


def hash_loop(folder: Path) -> int:
    """Walk, then read in 1 MiB chunks into a reused buffer and SHA-256 every
    file, in one thread. Returns the file count."""
    paths = _files(folder)
    _hash_all(paths)
    return len(paths)


def hash_two_threads(folder: Path) -> int:
    """The same loop with the files split over two threads, largest first,
    alternating: the ceiling of a two-core machine."""
    paths = sorted(_files(folder), key=lambda path: -os.stat(path).st_size)
    halves = [paths[0::2], paths[1::2]]
    threads = [threading.Thread(target=_hash_all, args=(half,)) for half in halves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(paths)


def stat_loop(paths: list[Path]) -> int:
    """``os.stat`` every file of a known list: the least a live debug mode pays."""
    for path in paths:
        os.stat(path)
    return len(paths)
