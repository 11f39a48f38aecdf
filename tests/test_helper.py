"""The helper process that shares many small files: same answers, never needed."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from quart import Quart
from starlette.applications import Starlette

from quart_appcache import BuildError, ConfigError, bundle, filehash, helper
from quart_appcache.filehash import Digest, RevisionCache, hash_files, prefetcher
from quart_appcache.helper import Helper, HelperGone
from quart_appcache.prefetch import PREFETCH_FILES
from quart_appcache.smallfiles import INLINE_MAX, hash_small
from quart_appcache.starlette import Appcache as StarletteAppcache

from .conftest import AppFactory, write


@pytest.fixture
def started() -> Iterator[Helper]:
    """A running helper, killed after the test."""
    one = Helper()
    one.start()
    assert one.started, one.failed
    yield one
    one.close()


def tree(root: Path, count: int) -> list[str]:
    """``count`` small files of distinct content, in a few folders."""
    return [
        str(write(root / f"d{index % 7}" / f"f{index:04d}.txt", f"file {index}\n" * (index % 50)))
        for index in range(count)
    ]


def count_batches(
    monkeypatch: pytest.MonkeyPatch, *, helper: bool = True
) -> tuple[list[int], list[int]]:
    """Files per batch read in this process, and per request the helper
    answered (hashes or stats), from now on.

    With a ``helper``, this process waits (a bounded while) for its first
    answer before taking a second batch, so that on a fast machine it cannot
    finish a small tree before the helper has even started.
    """
    here: list[int] = []
    there: list[int] = []
    answered = threading.Event()
    real_here, real_hash, real_check = filehash._hash_batch, Helper.send_hash, Helper.send_check

    def in_process(paths, known, digests):  # type: ignore[no-untyped-def]
        if here and helper:
            answered.wait(10)
        here.append(len(paths))
        return real_here(paths, known, digests)

    def counted(real):  # type: ignore[no-untyped-def]
        def send(self, paths, *args):  # type: ignore[no-untyped-def]
            try:
                pending = real(self, paths, *args)
            except BaseException:
                answered.set()  # (gave up: this process goes on either way)
                raise
            real_wait = pending.wait

            def wait():  # type: ignore[no-untyped-def]
                try:
                    result = real_wait()
                finally:
                    answered.set()  # (or gave up: this process goes on either way)
                there.append(len(paths))
                return result

            pending.wait = wait
            return pending

        return send

    monkeypatch.setattr(filehash, "_hash_batch", in_process)
    monkeypatch.setattr(Helper, "send_hash", counted(real_hash))
    monkeypatch.setattr(Helper, "send_check", counted(real_check))
    return here, there


def pairs(results: list[filehash.Result]) -> list[object]:
    """``(revision, size)`` per result (digests carry when they were read too)."""
    return [
        (r.revision, r.size) if isinstance(r, Digest) else r if isinstance(r, tuple) else repr(r)
        for r in results
    ]


def test_the_helper_answers_as_this_process_does(tmp_path: Path, started: Helper) -> None:
    paths = [
        str(write(tmp_path / "small", b"abc")),
        str(write(tmp_path / "empty", b"")),
        str(write(tmp_path / "inline", b"i" * INLINE_MAX)),
        str(write(tmp_path / "larger", b"l" * (INLINE_MAX + 1))),
        str(tmp_path / "missing"),
        str(tmp_path),  # a folder: refused, never read
    ]
    os.mkfifo(tmp_path / "fifo")
    paths.append(str(tmp_path / "fifo"))  # refused without blocking
    here = hash_small(paths, bytearray(INLINE_MAX + 1))
    read_at, there = started.hash(paths)
    assert abs(read_at - time.time_ns()) < 60 * 10**9
    assert (
        there[:4]
        == here[:4]
        == [
            (filehash.revision_of(b"abc"), 3),
            (filehash.revision_of(b""), 0),
            (filehash.revision_of(b"i" * INLINE_MAX), INLINE_MAX),
            INLINE_MAX + 1,  # hashed elsewhere, by size
        ]
    )
    for mine, theirs in zip(here[4:], there[4:], strict=True):
        assert isinstance(mine, OSError)
        assert isinstance(theirs, OSError)
        assert theirs.errno == mine.errno or (not theirs.errno and not mine.errno)
        assert theirs.strerror == (mine.strerror or str(mine))
    assert isinstance(there[4], FileNotFoundError)
    assert there[4].filename == paths[4]  # the error names the file
    assert "no longer a regular file" in str(there[6])


def test_the_helper_checks_stamps_as_os_stat_does(tmp_path: Path, started: Helper) -> None:
    same, other = write(tmp_path / "a", b"a"), write(tmp_path / "b", b"b")
    stamps = {}
    for path in (same, other):
        st = os.stat(path)
        stamps[path] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    gone = str(tmp_path / "gone")
    answer = started.check(
        [str(same), str(other), str(other), gone],
        [stamps[same], (9, 9, 9, 9), None, stamps[same]],
    )
    assert answer[:3] == [None, stamps[other], stamps[other]]  # unchanged crosses as None
    assert isinstance(answer[3], FileNotFoundError)
    assert answer[3].filename == gone


def test_requests_sent_ahead_are_answered_in_order(tmp_path: Path, started: Helper) -> None:
    paths = tree(tmp_path, 60)
    stamps = [None] * 20
    first = started.send_hash(paths[:20])
    second = started.send_check(paths[20:40], stamps)
    third = started.send_hash(paths[40:])
    # Waited for in any order: each gets its own answer.
    assert pairs(third.wait()[1]) == pairs(hash_small(paths[40:], bytearray(INLINE_MAX + 1)))
    assert second.wait() == [
        (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino) for st in map(os.stat, paths[20:40])
    ]
    assert pairs(first.wait()[1]) == pairs(hash_small(paths[:20], bytearray(INLINE_MAX + 1)))


def test_threads_share_one_helper(tmp_path: Path, started: Helper) -> None:
    paths = tree(tmp_path, 200)
    expected = pairs(hash_small(paths, bytearray(INLINE_MAX + 1)))
    failures: list[str] = []

    def client(offset: int) -> None:
        for round_ in range(15):
            start = (offset * 37 + round_ * 11) % 150
            pending = [started.send_hash(paths[start : start + n]) for n in (5, 50)]
            for n, one in zip((5, 50), pending, strict=True):
                if pairs(one.wait()[1]) != expected[start : start + n]:
                    failures.append(f"client {offset}, round {round_}, {n} files")

    threads = [threading.Thread(target=client, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "a client hung"
    assert not failures
    assert started.failed is None


def test_a_large_request_goes_while_a_large_answer_comes_back(
    tmp_path: Path, started: Helper, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each larger than the pipes: the helper writes an answer nobody reads
    # yet, while this process writes a request the helper does not read yet.
    # Sending must read answers meanwhile, or both wait until the deadline.
    monkeypatch.setattr(helper, "ANSWER_SECONDS", 10.0)
    many = [str(tmp_path / "missing" / f"{index:06d}-{'x' * 40}") for index in range(60_000)]
    long = [str(tmp_path / "missing" / f"{index:06d}-{'y' * 200}") for index in range(12_000)]
    assert sum(map(len, long)) > 2 * helper.PIPE_BYTES
    checking = started.send_check(many, [None] * len(many))
    began = time.monotonic()
    hashing = started.send_hash(long)
    answers = hashing.wait()[1]
    assert time.monotonic() - began < 8
    assert all(isinstance(one, FileNotFoundError) for one in answers)
    assert [one.filename for one in answers] == long  # type: ignore[union-attr]
    checked = checking.wait()
    assert len(checked) == len(many)
    assert all(isinstance(one, FileNotFoundError) for one in checked)
    assert started.failed is None


def test_an_unused_helper_goes_with_its_process_even_with_a_request_in_flight(
    tmp_path: Path,
) -> None:
    one = Helper()
    one.start()
    process = one._process
    assert process is not None
    os.kill(process.pid, signal.SIGSTOP)  # the request below is never answered
    try:
        one.send_hash([str(tmp_path / "never answered")])
        del one
        gc.collect()
        wait_until(lambda: process.poll() is not None, "the helper's process to go")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)
    assert process.returncode == -signal.SIGKILL


def test_the_pipes_hold_a_batch_in_one_write(started: Helper) -> None:
    process = started._process
    assert process is not None
    assert process.stdin is not None
    assert process.stdout is not None
    for pipe in (process.stdin, process.stdout):
        assert fcntl.fcntl(pipe.fileno(), fcntl.F_GETPIPE_SZ) == helper.PIPE_BYTES


async def test_shared_hashing_gives_the_same_results(
    tmp_path: Path, started: Helper, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = tree(tmp_path, 600)
    paths.insert(300, str(write(tmp_path / "big.bin", os.urandom(3 * INLINE_MAX))))
    alone = await hash_files(paths)
    here, there = count_batches(monkeypatch)
    shared = await hash_files(paths, helper=started)
    assert pairs(shared) == pairs(alone)
    assert sum(here) + sum(there) == len(paths)
    assert there, "the helper took no batch"
    assert here, "this process took no batch"
    # With a cache: digests, from either side, that a later run can trust.
    cache = RevisionCache()
    first = await hash_files(paths, cache, helper=started)
    assert all(isinstance(result, Digest) for result in first)
    assert pairs(first) == pairs(alone)


async def test_debug_mode_stats_through_the_helper_and_reads_what_changed(
    tmp_path: Path, started: Helper, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = tree(tmp_path, 400)
    cache = RevisionCache()
    first = await hash_files(paths, cache)
    cache.replace(dict(zip(paths, first, strict=True)))  # type: ignore[arg-type]
    # Files written a moment ago are trusted by their stat only once older
    # than the racy window; move the window instead of waiting it out.
    monkeypatch.setattr(filehash, "RACY_NS", -(10**12))
    here, there = count_batches(monkeypatch)
    second = await hash_files(paths, cache, helper=started)
    assert all(r is cache.known[p] for r, p in zip(second, paths, strict=True))
    assert there, "the helper stat-ed nothing"
    assert here, "this process stat-ed nothing"
    # A changed file is read again, whichever side stats it.
    changed = [paths[0], paths[-1]]
    for path in changed:
        write(Path(path), "changed content, another size")
    third = await hash_files(paths, cache, helper=started)
    for path, result in zip(paths, third, strict=True):
        assert isinstance(result, Digest)
        if path in changed:
            assert result.revision == filehash.revision_of(b"changed content, another size")
        else:
            assert result is cache.known[path]


async def test_a_helper_that_dies_leaves_its_work_to_this_process(
    tmp_path: Path,
    started: Helper,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    paths = tree(tmp_path, 500)
    alone = await hash_files(paths)
    process = started._process
    assert process is not None
    process.kill()
    process.wait()
    count_batches(monkeypatch)  # (so the helper surely gets a batch)
    with caplog.at_level(logging.DEBUG, logger="quart_appcache"):
        shared = await hash_files(paths, helper=started)
    assert pairs(shared) == pairs(alone)
    assert started.failed is not None
    assert "stopped answering" in started.failed
    assert "hashing in this process only" in caplog.text
    with pytest.raises(HelperGone):
        started.hash(paths[:1])


async def test_a_helper_that_stops_answering_is_killed_and_not_waited_for(
    tmp_path: Path, started: Helper, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(helper, "ANSWER_SECONDS", 0.5)
    paths = tree(tmp_path, 500)
    alone = await hash_files(paths)
    process = started._process
    assert process is not None
    os.kill(process.pid, signal.SIGSTOP)  # alive, but never answers
    count_batches(monkeypatch)  # (so the helper surely gets a batch)
    try:
        began = time.monotonic()
        shared = await hash_files(paths, helper=started)
        assert time.monotonic() - began < 5
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)
    assert pairs(shared) == pairs(alone)
    assert started.failed is not None
    assert "no answer within 0.5 s" in started.failed
    wait_until(lambda: process.returncode is not None, "the helper to be reaped")
    assert process.returncode == -signal.SIGKILL  # killed, not left stopped


async def test_a_helper_that_cannot_start_is_not_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    one = Helper()
    one.start()
    assert not one.started
    assert one.failed is not None
    assert "could not start" in one.failed
    paths = tree(tmp_path, 50)
    assert await hash_files(paths, helper=one) == await hash_files(paths)


def test_no_helper_for_a_frozen_app(monkeypatch: pytest.MonkeyPatch) -> None:
    assert helper.available()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert not helper.available()


def test_ctrl_c_on_the_server_is_not_for_the_helper(started: Helper) -> None:
    process = started._process
    assert process is not None
    assert os.getsid(process.pid) != os.getsid(0)  # not in the terminal's process group


def test_closing_reaps_the_process(started: Helper) -> None:
    process = started._process
    assert process is not None
    assert process.poll() is None
    started.close()
    assert not started.started
    # Killed at once, and reaped by the thread that read its answers.
    wait_until(lambda: process.returncode is not None, "the helper to be reaped")
    assert process.returncode == -signal.SIGKILL


def test_the_helper_exits_when_its_parent_goes() -> None:
    # Its stdin closes when the parent dies; it must not linger.
    code = (
        "from quart_appcache.helper import Helper; h = Helper(); h.start(); "
        "print(h._process.pid, flush=True); import os; os._exit(0)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    pid = int(out.stdout)
    deadline = time.monotonic() + 10
    while _alive(pid):
        assert time.monotonic() < deadline, "the helper outlived its parent"
        time.sleep(0.01)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch) -> list[Helper]:
    """Every helper started from now on; apps start one at 100 files."""
    monkeypatch.setattr(bundle, "START_AT", 100)
    started: list[Helper] = []
    real_start = Helper.start

    def start(self: Helper) -> None:
        started.append(self)
        real_start(self)

    monkeypatch.setattr(Helper, "start", start)
    return started


async def test_an_app_with_many_files_shares_them_and_closes_its_helper(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, starts: list[Helper]
) -> None:
    versions = {}
    for enabled in (True, False):
        app, appcache = make_app(APPCACHE_HASH_HELPER=enabled)
        tree(Path(app.root_path) / "static" / "many", 300)
        appcache.add_folder("static")
        here, there = count_batches(monkeypatch, helper=enabled)
        async with app.test_app():
            versions[enabled] = await appcache.hash()
        assert bool(there) is enabled
        assert sum(here) + sum(there) == 302
    assert versions[True][0] == versions[False][0]
    assert len({id(one) for one in starts}) == 1  # only the enabled app started one
    [one] = set(starts)
    assert one.failed == "closed"  # a final computation closes its helper
    assert one._process is None


async def test_debug_mode_keeps_one_helper(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle, "START_AT", 100)
    app, appcache = make_app(debug=True)
    files = tree(Path(app.root_path) / "static" / "many", 300)
    appcache.add_folder("static")
    client = app.test_client()
    first = await (await client.get("/manifest.appcache")).get_data()
    kept = appcache.site().bundle._helper
    assert kept is not None
    assert kept.started
    write(Path(files[0]), "edited")
    second = await (await client.get("/manifest.appcache")).get_data()
    assert second != first
    assert appcache.site().bundle._helper is kept
    assert kept.started


def test_hash_helper_must_be_a_bool(make_app: AppFactory) -> None:
    with pytest.raises(ConfigError, match=r"APPCACHE_HASH_HELPER is 'yes'; give True or False"):
        make_app(APPCACHE_HASH_HELPER="yes")
    with pytest.raises(ConfigError, match=r"Appcache\(hash_helper=\.\.\.\) is 1; give True"):
        StarletteAppcache(Starlette(), hash_helper=1)  # type: ignore[arg-type]


def test_the_helper_never_blocks_on_a_socket(tmp_path: Path, started: Helper) -> None:
    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        _, [result] = started.hash([str(path)])
    assert isinstance(result, OSError)


async def test_the_build_check_shares_many_files_and_still_finds_a_same_size_edit(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle, "START_AT", 100)

    def built() -> Quart:
        app, appcache = make_app(APPCACHE_BUILD_DIR=str(tmp_path / "build"))
        appcache.add_folder("static")
        return app

    files = tree(Path(built().root_path) / "static" / "many", 300)
    result = await asyncio.to_thread(built().test_cli_runner().invoke, args=["appcache", "build"])
    assert result.exit_code == 0, result.output
    last = Path(files[-1])
    stale = built()
    last.write_bytes(last.read_bytes().upper())  # same size, other bytes
    _, there = count_batches(monkeypatch)
    with pytest.raises(BuildError, match=r"the content of '/static/many/d5/f0299.txt' changed"):
        await stale.startup()
    assert there, "the helper took no batch"


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


async def test_files_prefetched_during_the_walk_are_not_read_again(
    tmp_path: Path, started: Helper, opened: list[str]
) -> None:
    paths = tree(tmp_path, 700)
    alone = await hash_files(paths)
    prefetch = prefetcher(started, None)
    prefetch.add(paths[:300])
    prefetch.add([str(tmp_path / "listed, then left out of the bundle")])
    # One full batch goes to the helper; the rest waits for more files.
    wait_until(lambda: len(prefetch._done) == 1, "the first prefetched batch")
    opened.clear()
    shared = await hash_files([*paths, paths[0]], helper=started, prefetch=prefetch)
    assert pairs(shared) == [*pairs(alone), pairs(alone)[0]]
    # (The file listed again at the end, as under a second URL, may be read
    # again for that entry; its prefetched entry is not.)
    done = {os.path.basename(path) for path in paths[1:PREFETCH_FILES]}
    assert not done & set(opened), "a prefetched file was read again here"
    prefetch.add(paths[:5])  # after the walk: ignored
    assert prefetch.stop() == paths[:PREFETCH_FILES]


async def test_a_helper_that_dies_while_prefetching_leaves_nothing_out(
    tmp_path: Path, started: Helper
) -> None:
    paths = tree(tmp_path, 600)
    alone = await hash_files(paths)
    prefetch = prefetcher(started, None)
    prefetch.add(paths[:256])
    wait_until(lambda: len(prefetch._done) == 1, "the first prefetched batch")
    process = started._process
    assert process is not None
    process.kill()
    prefetch.add(paths[256:])  # its next batch fails: those files have no result
    wait_until(lambda: started.failed is not None, "the helper to be found gone")
    shared = await hash_files(paths, helper=started, prefetch=prefetch)
    assert pairs(shared) == pairs(alone)


async def test_debug_mode_prefetch_checks_stamps_and_reads_only_what_changed(
    tmp_path: Path, started: Helper, monkeypatch: pytest.MonkeyPatch, opened: list[str]
) -> None:
    paths = tree(tmp_path, 600)
    cache = RevisionCache()
    first = await hash_files(paths, cache)
    cache.replace(dict(zip(paths, first, strict=True)))  # type: ignore[arg-type]
    monkeypatch.setattr(filehash, "RACY_NS", -(10**12))  # trusted by their stat at once
    await hash_files(paths, cache)  # the first check keeps each file's stamp
    write(Path(paths[1]), "changed content, another size")
    prefetch = prefetcher(started, cache)
    prefetch.add(paths[:300])
    wait_until(lambda: len(prefetch._done) == 1, "the first prefetched batch")
    opened.clear()
    second = await hash_files(paths, cache, helper=started, prefetch=prefetch)
    for index, (path, result) in enumerate(zip(paths, second, strict=True)):
        assert isinstance(result, Digest)
        if index == 1:
            assert result.revision == filehash.revision_of(b"changed content, another size")
        else:
            assert result is cache.known[path]
    assert "f0001.txt" not in opened  # the helper read the changed file
    assert not {os.path.basename(path) for path in paths[:PREFETCH_FILES]} & set(opened)


async def test_outside_debug_mode_a_computation_before_startup_keeps_no_helper(
    make_app: AppFactory, starts: list[Helper]
) -> None:
    app, appcache = make_app()
    tree(Path(app.root_path) / "static" / "many", 300)
    appcache.add_folder("static")
    await appcache.hash()  # before startup: computed leniently, not frozen
    assert starts, "no helper was started"
    assert all(one.failed == "closed" for one in starts)
    assert appcache.site().bundle._helper is None


async def test_prefetched_files_are_found_in_any_order(tmp_path: Path, started: Helper) -> None:
    paths = tree(tmp_path, 400)
    alone = await hash_files(paths)
    prefetch = prefetcher(started, None)
    prefetch.add(paths[:300])
    wait_until(lambda: len(prefetch._done) == 1, "the first prefetched batch")
    # Two folders, or a URL listed twice: the bundle's order is not the walk's.
    backwards = paths[::-1]
    shared = await hash_files(backwards, helper=started, prefetch=prefetch)
    assert pairs(shared) == pairs(alone)[::-1]
