"""The plain-Python limits: what one thread does with no framework at all."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def hash_loop(folder: Path) -> int:
    """Walk, open, read and sha1 every file, in one thread. Returns the file count."""
    count = 0
    for directory, _, files in os.walk(folder):
        for name in files:
            with open(os.path.join(directory, name), "rb") as handle:
                hashlib.sha1(handle.read()).hexdigest()
            count += 1
    return count


def stat_loop(paths: list[Path]) -> int:
    """``os.stat`` every file of a known list: the least a live debug mode pays."""
    for path in paths:
        os.stat(path)
    return len(paths)
