"""File hashing: batches, large files in chunks, the debug-mode cache."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from quart_appcache import hashing
from quart_appcache.hashing import Digest, RevisionCache, hash_files, revision_of

from ..conftest import AppFactory, write


def expected(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[: hashing.REVISION_CHARS]


def revisions(results: list[hashing.Result]) -> list[str]:
    return [
        r.revision if isinstance(r, Digest) else r[0] if isinstance(r, tuple) else repr(r)
        for r in results
    ]


def sizes(results: list[hashing.Result]) -> list[int]:
    return [
        r.size if isinstance(r, Digest) else r[1] for r in results if not isinstance(r, OSError)
    ]


def count_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch hashed in this process from now on."""
    batches: list[int] = []
    real = hashing._hash_batch

    def counting(batch, known, buffer):  # type: ignore[no-untyped-def]
        batches.append(len(batch))
        return real(batch, known, buffer)

    monkeypatch.setattr(hashing, "_hash_batch", counting)
    return batches


async def test_small_medium_large_and_huge_files_get_content_revisions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashing, "STREAM_MIN", hashing.CHUNK * 3)  # "huge" without 64 MiB
    files = {
        "small": b"x" * 100,
        "empty": b"",
        "inline": b"e" * hashing.INLINE_MAX,  # the largest file hashed in its batch
        "medium": b"m" * (hashing.INLINE_MAX + 1),
        "large": os.urandom(hashing.CHUNK * 2 + 123),
        "huge": os.urandom(hashing.CHUNK * 3 + 7),
        "after": b"after the large ones",
    }
    paths = [str(write(tmp_path / name, data)) for name, data in files.items()]
    for cache in (None, RevisionCache()):
        results = await hash_files(paths, cache)
        assert revisions(results) == [expected(data) for data in files.values()]
        assert sizes(results) == [len(data) for data in files.values()]
        # With a cache every result carries the stamp the cache needs.
        assert all(isinstance(r, Digest) for r in results) is (cache is not None)


async def test_larger_files_are_hashed_largest_first_beside_the_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = {"a-small": 10, "b-mid": 100_000, "c-big": 3_000_000, "d-mid": 200_000}
    paths = [str(write(tmp_path / name, b"z" * size)) for name, size in names.items()]
    groups: list[list[str]] = []
    real = hashing._hash_group

    def recording(group):  # type: ignore[no-untyped-def]
        groups.append([os.path.basename(path) for path in group])
        return real(group)

    monkeypatch.setattr(hashing, "_hash_group_async", hashing.aiofiles.os.wrap(recording))
    monkeypatch.setattr(hashing, "WORKERS", 1)
    results = await hash_files(paths)
    assert revisions(results) == [expected(b"z" * size) for size in names.values()]
    # One hop for the three larger files, the largest first.
    assert groups == [["c-big", "d-mid", "b-mid"]]


async def test_huge_files_stream_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "STREAM_MIN", hashing.CHUNK)
    data = os.urandom(hashing.CHUNK * 3 + 1)
    path = write(tmp_path / "big", data)
    chunks: list[int] = []
    real = hashing._hash_chunk

    def counting(fd, buffer, h):  # type: ignore[no-untyped-def]
        count = real(fd, buffer, h)
        chunks.append(count)
        return count

    monkeypatch.setattr(hashing, "_hash_chunk_async", hashing.aiofiles.os.wrap(counting))
    [result] = await hash_files([str(path)])
    assert isinstance(result, Digest)
    assert result.revision == expected(data)
    assert chunks == [hashing.CHUNK] * 3 + [1, 0]  # never the whole file at once


async def test_file_that_grew_is_hashed_whole(tmp_path: Path) -> None:
    path = write(tmp_path / "f", b"x" * 10)
    with path.open("ab") as out:
        out.write(b"y" * (hashing.CHUNK + 5))
    [result] = await hash_files([str(path)])
    assert isinstance(result, Digest)
    assert result.revision == expected(path.read_bytes())


async def test_many_files_are_batched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "BATCH_FILES", 256)
    paths = [str(write(tmp_path / f"f{i}", f"file {i}")) for i in range(600)]
    batches = count_batches(monkeypatch)
    results = await hash_files(paths)
    assert revisions(results) == [expected(f"file {i}".encode()) for i in range(600)]
    # One thread hop per batch, not per file; a small first batch, so the
    # hashers of larger files start early.
    assert batches == [hashing.FIRST_BATCH_FILES, 256, 256, 600 - 512 - hashing.FIRST_BATCH_FILES]


async def test_files_known_to_the_cache_are_checked_in_larger_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashing, "BATCH_FILES", 100)
    monkeypatch.setattr(hashing, "CACHED_BATCH_FILES", 400)
    paths = [str(write(tmp_path / f"f{i}", f"file {i}")) for i in range(600)]
    batches = count_batches(monkeypatch)
    cache = RevisionCache()
    first = await hash_files(paths, cache)
    cache.replace({p: d for p, d in zip(paths, first, strict=True) if isinstance(d, Digest)})
    assert batches == [hashing.FIRST_BATCH_FILES] + [100] * 5 + [600 - 500 - 64]
    batches.clear()
    again = await hash_files(paths, cache)
    assert revisions(again) == revisions(first)
    assert batches == [hashing.FIRST_BATCH_FILES, 400, 600 - 400 - hashing.FIRST_BATCH_FILES]


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


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
async def test_a_device_is_refused_after_one_read(device: str) -> None:
    # /dev/zero fills the read (a "larger file"), /dev/null gives nothing (an
    # "empty file"): both seek, so only the fstat after the read catches them.
    [result] = await asyncio.wait_for(hash_files([device]), 5)
    assert isinstance(result, OSError)
    assert "no longer a regular file" in str(result)


async def test_cache_skips_unchanged_files_but_rereads_racy_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opened: list[str]
) -> None:
    monkeypatch.setattr(hashing, "RACY_NS", 200_000_000)
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


def stat_of(size: int, mtime: int, ctime: int, inode: int) -> hashing.Stamp:
    return (size, mtime, ctime, inode)


def test_first_trust_needs_the_size_and_both_times_older_than_the_read() -> None:
    now = 10 * hashing.RACY_NS
    old = now - 2 * hashing.RACY_NS
    recent = now - 1000
    assert not Digest("r", 1, now).unchanged(stat_of(2, old, old, 7))  # resized
    assert not Digest("r", 1, now).unchanged(stat_of(1, recent, old, 7))  # racy mtime
    assert not Digest("r", 1, now).unchanged(stat_of(1, old, recent, 7))  # touched back
    trusted = Digest("r", 1, now)
    assert trusted.unchanged(stat_of(1, old, old, 7))
    assert trusted.stamp == (1, old, old, 7)


def test_once_trusted_the_stat_must_match_exactly() -> None:
    now = 10 * hashing.RACY_NS
    old = now - 2 * hashing.RACY_NS
    digest = Digest("r", 1, now)
    assert digest.unchanged(stat_of(1, old, old, 7))
    assert digest.unchanged(stat_of(1, old, old, 7))
    assert not digest.unchanged(stat_of(1, old, old, 8))  # another file renamed over it
    assert not digest.unchanged(stat_of(1, old - 1, old, 7))
    assert digest.stamp == (1, old, old, 7)  # a failed check keeps the stamp


def test_revision_of_is_truncated_sha256() -> None:
    assert revision_of(b"abc") == hashlib.sha256(b"abc").hexdigest()[:32]


async def test_no_computation_starts_a_child_process(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import subprocess
    import warnings

    started: list[str] = []

    def refuse(name: str):  # type: ignore[no-untyped-def]
        def spawn(*args, **kwargs):  # type: ignore[no-untyped-def]
            started.append(name)
            raise AssertionError(f"{name} was called")

        return spawn

    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "spawnv", "execv"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, refuse(f"os.{name}"))
    monkeypatch.setattr(subprocess, "Popen", refuse("subprocess.Popen"))
    for debug in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            app, appcache = make_app(debug=debug, APPCACHE_HASH_HELPER=True)
        folder = Path(app.root_path) / "many"
        for index in range(1500):  # the helper process used to start at 1,000 files
            write(folder / f"d{index % 30}" / f"f{index}.txt", f"file {index}")
        appcache.add_folder(folder, base="/many")
        await appcache.hash()
        await appcache.hash()
        if not debug:
            await appcache.finalize()
    assert started == []


def test_the_helper_setting_is_deprecated_and_ignored_on_both_adapters(
    make_app: AppFactory, make_starlette: object
) -> None:
    with pytest.warns(DeprecationWarning, match=r"APPCACHE_HASH_HELPER is deprecated and ignored"):
        make_app(APPCACHE_HASH_HELPER=False)
    with pytest.warns(
        DeprecationWarning, match=r"Appcache\(hash_helper=\.\.\.\) is deprecated and ignored"
    ):
        make_starlette(hash_helper=False)  # type: ignore[operator]
