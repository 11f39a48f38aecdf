"""File hashing: batches, large files in chunks, the debug-mode cache."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

import pytest

from quart_appcache import filehash
from quart_appcache.collect import FileEntry
from quart_appcache.filehash import Digest, RevisionCache, hash_files, revision_of

from .conftest import write


def entry(path: Path) -> FileEntry:
    st = path.stat()
    return FileEntry(
        "/" + path.name, str(path), st.st_size, (st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    )


def expected(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[: filehash.REVISION_CHARS]


async def test_small_and_large_files_get_content_revisions(tmp_path: Path) -> None:
    small = write(tmp_path / "small", b"x" * 100)
    empty = write(tmp_path / "empty", b"")
    exact = write(tmp_path / "exact", b"e" * filehash.SMALL_FILE)
    large_data = os.urandom(filehash.CHUNK * 2 + 123)
    large = write(tmp_path / "large", large_data)
    results = await hash_files([entry(p) for p in (small, empty, exact, large)])
    assert [r.revision for r in results if isinstance(r, Digest)] == [
        expected(b"x" * 100),
        expected(b""),
        expected(b"e" * filehash.SMALL_FILE),
        expected(large_data),
    ]
    assert [r.size for r in results if isinstance(r, Digest)] == [
        100,
        0,
        filehash.SMALL_FILE,
        len(large_data),
    ]


async def test_file_that_grew_after_listing_is_hashed_whole(tmp_path: Path) -> None:
    path = write(tmp_path / "f", b"short")
    listed = entry(path)
    write(path, b"much longer content than listed")
    [result] = await hash_files([listed])
    assert isinstance(result, Digest)
    assert result.revision == expected(b"much longer content than listed")


async def test_many_files_are_batched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [write(tmp_path / f"f{i}", f"file {i}") for i in range(600)]
    batches: list[int] = []
    real = filehash._hash_batch

    def counting(entries):  # type: ignore[no-untyped-def]
        batches.append(len(entries))
        return real(entries)

    monkeypatch.setattr(filehash, "_hash_batch_async", filehash.aiofiles.os.wrap(counting))
    results = await hash_files([entry(p) for p in paths])
    assert [r.revision for r in results if isinstance(r, Digest)] == [
        expected(f"file {i}".encode()) for i in range(600)
    ]
    assert sum(batches) == 600
    assert len(batches) == 3  # one thread hop per batch, not per file


async def test_vanished_file_is_returned_as_its_error(tmp_path: Path) -> None:
    path = write(tmp_path / "gone", b"x")
    listed = entry(path)
    path.unlink()
    [result] = await hash_files([listed])
    assert isinstance(result, FileNotFoundError)


async def test_file_replaced_by_a_fifo_is_not_read(tmp_path: Path) -> None:
    path = write(tmp_path / "f", b"x")
    listed = entry(path)
    path.unlink()
    os.mkfifo(path)
    [result] = await hash_files([listed])  # would hang if opened blocking and read
    assert isinstance(result, OSError)
    assert "no longer a regular file" in str(result)


async def test_cache_skips_unchanged_files_but_rereads_racy_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filehash, "RACY_NS", 200_000_000)
    old = write(tmp_path / "old", b"old")
    await asyncio.sleep(0.3)  # `old` is now outside the (shortened) racy window
    fresh = write(tmp_path / "fresh", b"fresh")
    opened: list[str] = []
    real = filehash._open_regular

    def counting(path: str) -> int:
        opened.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(filehash, "_open_regular", counting)
    cache = RevisionCache()
    entries = [entry(old), entry(fresh)]
    first = await hash_files(entries, cache)
    cache.replace(
        {e.path: (e, d) for e, d in zip(entries, first, strict=True) if isinstance(d, Digest)}
    )
    assert opened == ["old", "fresh"]
    opened.clear()
    results = await hash_files(entries, cache)
    assert opened == ["fresh"]  # read within the racy window of its own write
    assert [r.revision for r in results if isinstance(r, Digest)] == [
        expected(b"old"),
        expected(b"fresh"),
    ]


def test_cache_distrusts_changed_stamps_and_racy_timestamps() -> None:
    cache = RevisionCache()
    now = time.time_ns()
    old = now - 10 * filehash.RACY_NS
    seen = FileEntry("/a", "/a", 3, (old, old, 7))
    cache.replace({"/a": (seen, Digest("rev", 3, now))})
    assert cache.lookup(seen) == Digest("rev", 3, now)
    assert cache.lookup(FileEntry("/a", "/a", 4, (old, old, 7))) is None  # size
    assert cache.lookup(FileEntry("/a", "/a", 3, (old + 1, old, 7))) is None  # mtime
    assert cache.lookup(FileEntry("/a", "/a", 3, (old, old + 1, 7))) is None  # ctime
    assert cache.lookup(FileEntry("/a", "/a", 3, (old, old, 8))) is None  # replaced file
    assert cache.lookup(FileEntry("/b", "/b", 3, (old, old, 7))) is None
    racy = FileEntry("/r", "/r", 3, (now - 1000, now - 1000, 9))
    cache.replace({"/r": (racy, Digest("rev", 3, now))})
    assert cache.lookup(racy) is None  # written just before it was read


def test_revision_of_is_truncated_sha256() -> None:
    assert revision_of(b"abc") == hashlib.sha256(b"abc").hexdigest()[:32]
