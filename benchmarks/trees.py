"""Seeded generators for the benchmark trees (never committed data)."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024


@dataclass(frozen=True)
class TreeSpec:
    """How many files of which sizes, and how deep."""

    name: str
    files: int
    sizes: tuple[int, int]
    huge: tuple[int, ...] = ()
    fanout: int = 8
    depth: int = 3


MANY = TreeSpec("many", files=5000, sizes=(1024, 8 * 1024))
# 300 files, 300 MiB in all: six of 10-50 MiB, the rest shares what is left.
BIG = TreeSpec(
    "big",
    files=300,
    sizes=(0, 0),
    huge=(10 * MIB, 18 * MIB, 26 * MIB, 34 * MIB, 42 * MIB, 50 * MIB),
)
BIG_TOTAL = 300 * MIB
SMOKE_MANY = TreeSpec("many", files=200, sizes=(1024, 8 * 1024))
# The browser scenarios' bundles: files of 1-64 KiB.
BUNDLES = (
    TreeSpec("bundle", files=300, sizes=(1024, 64 * 1024)),
    TreeSpec("bundle", files=2000, sizes=(1024, 64 * 1024)),
)
SMOKE_BUNDLES = (TreeSpec("bundle", files=20, sizes=(1024, 64 * 1024)),)
SMOKE_BIG = TreeSpec("big", files=12, sizes=(0, 0), huge=(2 * MIB, 3 * MIB))
SMOKE_BIG_TOTAL = 8 * MIB


def _folder(rng: random.Random, spec: TreeSpec) -> Path:
    parts = [f"d{rng.randrange(spec.fanout)}" for _ in range(rng.randrange(spec.depth + 1))]
    return Path(*parts) if parts else Path()


def build(root: Path, spec: TreeSpec, total: int | None = None, seed: int = 1234) -> list[Path]:
    """Write the tree under ``root`` (unless already there) and list its files.

    Contents are pseudo-random bytes from ``seed``, so every run and every
    machine builds the same tree.
    """
    rng = random.Random(f"{seed}-{spec.name}-{spec.files}")
    marker = root / ".complete"
    sizes = _sizes(rng, spec, total)
    paths = [root / _folder(rng, spec) / f"f{index:05d}.bin" for index in range(len(sizes))]
    if marker.exists():
        return paths
    chunk = rng.randbytes(MIB)
    for path, size in zip(paths, sizes, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            out.write(rng.randbytes(min(size, 64)))  # distinct content per file
            written = min(size, 64)
            while written < size:
                piece = chunk[: size - written]
                out.write(piece)
                written += len(piece)
    marker.write_text("ok")
    return paths


def _sizes(rng: random.Random, spec: TreeSpec, total: int | None) -> list[int]:
    if not spec.huge:
        return [rng.randint(*spec.sizes) for _ in range(spec.files)]
    rest = (total or 0) - sum(spec.huge)
    small_count = spec.files - len(spec.huge)
    small = [rest // small_count] * small_count
    small[-1] += rest - sum(small)
    sizes = [*spec.huge, *small]
    rng.shuffle(sizes)
    return sizes


def tree_bytes(paths: list[Path]) -> int:
    """Total size of the files."""
    return sum(os.path.getsize(p) for p in paths)
