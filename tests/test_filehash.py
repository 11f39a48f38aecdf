"""File hashing: batches, large files in chunks, the debug-mode cache."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from quart_appcache import filehash
from quart_appcache.filehash import Digest, RevisionCache, hash_files, revision_of

from .conftest import write


def expected(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[: filehash.REVISION_CHARS]


def revisions(results: list[Digest | OSError]) -> list[str]:
    return [r.revision if isinstance(r, Digest) else repr(r) for r in results]


async def test_small_and_large_files_get_content_revisions(tmp_path: Path) -> None:
    large_data = os.urandom(filehash.CHUNK * 2 + 123)
    files = {
        "small": b"x" * 100,
        "empty": b"",
        "exact": b"e" * filehash.SMALL_FILE,
        "large": large_data,
        "after": b"after the large one",
    }
    paths = [str(write(tmp_path / name, data)) for name, data in files.items()]
    results = await hash_files(paths)
    assert revisions(results) == [expected(data) for data in files.values()]
    assert [r.size for r in results if isinstance(r, Digest)] == [len(d) for d in files.values()]


async def test_large_files_stream_in_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(filehash.CHUNK * 3 + 1)
    path = write(tmp_path / "big", data)
    chunks: list[int] = []
    real = filehash._hash_chunk

    def counting(fd, buffer, h):  # type: ignore[no-untyped-def]
        count = real(fd, buffer, h)
        chunks.append(count)
        return count

    monkeypatch.setattr(filehash, "_hash_chunk_async", filehash.aiofiles.os.wrap(counting))
    [result] = await hash_files([str(path)])
    assert isinstance(result, Digest)
    assert result.revision == expected(data)
    assert chunks == [filehash.CHUNK] * 3 + [1, 0]  # never the whole file at once


async def test_file_that_grew_is_hashed_whole(tmp_path: Path) -> None:
    path = write(tmp_path / "f", b"x" * 10)
    with path.open("ab") as out:
        out.write(b"y" * (filehash.CHUNK + 5))
    [result] = await hash_files([str(path)])
    assert isinstance(result, Digest)
    assert result.revision == expected(path.read_bytes())


async def test_many_files_are_batched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [str(write(tmp_path / f"f{i}", f"file {i}")) for i in range(600)]
    batches: list[int] = []
    real = filehash._hash_batch

    def counting(batch, known):  # type: ignore[no-untyped-def]
        batches.append(len(batch))
        return real(batch, known)

    monkeypatch.setattr(filehash, "_hash_batch_async", filehash.aiofiles.os.wrap(counting))
    results = await hash_files(paths)
    assert revisions(results) == [expected(f"file {i}".encode()) for i in range(600)]
    assert batches == [256, 256, 88]  # one thread hop per batch, not per file


async def test_vanished_file_is_returned_as_its_error(tmp_path: Path) -> None:
    path = write(tmp_path / "gone", b"x")
    path.unlink()
    [result] = await hash_files([str(path)])
    assert isinstance(result, FileNotFoundError)


async def test_fifo_is_never_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    [result] = await asyncio.wait_for(hash_files([str(tmp_path / "pipe")]), 5)
    assert isinstance(result, OSError)
    assert "no longer a regular file" in str(result)


async def test_cache_skips_unchanged_files_but_rereads_racy_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opened: list[str]
) -> None:
    monkeypatch.setattr(filehash, "RACY_NS", 200_000_000)
    old = str(write(tmp_path / "old", b"old"))
    await asyncio.sleep(0.3)  # `old` is now outside the (shortened) racy window
    fresh = str(write(tmp_path / "fresh", b"fresh"))
    cache = RevisionCache()
    first = await hash_files([old, fresh], cache)
    cache.replace({p: d for p, d in zip([old, fresh], first, strict=True) if isinstance(d, Digest)})
    assert opened == ["old", "fresh"]
    opened.clear()
    second = await hash_files([old, fresh], cache)
    assert opened == ["fresh"]  # read within the racy window of its own write
    assert revisions(second) == [expected(b"old"), expected(b"fresh")]

    write(Path(old), b"new")  # same size, new content: ctime and mtime move
    opened.clear()
    third = await hash_files([old, fresh], cache)
    assert "old" in opened
    assert revisions(third)[0] == expected(b"new")


def test_settled_means_older_than_the_racy_window() -> None:
    now = 10 * filehash.RACY_NS
    old = now - 2 * filehash.RACY_NS
    assert Digest("r", 1, (1, old, old, 7), now).settled
    assert not Digest("r", 1, (1, now - 1000, old, 7), now).settled
    assert not Digest("r", 1, (1, old, now - 1000, 7), now).settled


def test_revision_of_is_truncated_sha256() -> None:
    assert revision_of(b"abc") == hashlib.sha256(b"abc").hexdigest()[:32]
