"""The answer stores: claim, finish, release and expiry, the same in memory, SQLite and Redis."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quart_appcache import answer_store
from quart_appcache.answer_store import Answer, AnswerStore, Held, store_for

ANSWER = Answer(201, ((b"content-type", b"application/json"),), b'{"id": 1}')


async def gone(store: AnswerStore, key: str) -> bool:
    """Wait (up to 5 s) until ``key`` expired."""
    for _ in range(250):
        if await store.get(key) is None:
            return True
        await asyncio.sleep(0.02)
    return False


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AnswerStore]:
    url = {
        "memory": "memory",
        "sqlite": "sqlite:///answers.sqlite3",
        "redis": request.getfixturevalue("redis_url") if request.param == "redis" else "",
    }[request.param]
    made = store_for(url, str(tmp_path))
    await made.open()
    try:
        yield made
    finally:
        await made.close()


async def test_a_key_is_claimed_once_then_holds_its_answer(store: AnswerStore) -> None:
    key = f"POST /api/notes {uuid.uuid4()}"
    assert await store.claim(key, "f1", "t1", 30) is None
    running = await store.claim(key, "f1", "t2", 30)
    assert running == Held("f1", None, "t1")
    await store.finish(key, Held("f1", ANSWER), 30)
    done = await store.claim(key, "f1", "t3", 30)
    assert done is not None
    assert done.answer == ANSWER
    assert (await store.get(key)) == done


async def test_a_release_frees_only_the_callers_unfinished_claim(store: AnswerStore) -> None:
    key = f"POST /api/notes {uuid.uuid4()}"
    assert await store.claim(key, "f", "mine", 30) is None
    await store.release(key, "someone else's")
    assert (await store.get(key)) is not None
    await store.release(key, "mine")
    assert (await store.get(key)) is None
    assert await store.claim(key, "f", "again", 30) is None
    await store.finish(key, Held("f", ANSWER), 30)
    await store.release(key, "again")  # finished: kept
    assert (await store.get(key)) is not None


async def test_an_expired_claim_or_answer_is_gone(store: AnswerStore) -> None:
    key = f"POST /api/notes {uuid.uuid4()}"
    assert await store.claim(key, "f", "t", 0.05) is None
    assert await gone(store, key)
    # A lapsed lease may be claimed again (a process killed mid-write).
    assert await store.claim(key, "f", "t2", 30) is None
    await store.finish(key, Held("f", ANSWER), 0.05)
    assert await gone(store, key)


async def test_sqlite_purges_expired_rows(tmp_path: Path) -> None:
    store = store_for("sqlite:///answers.sqlite3", str(tmp_path))
    await store.open()
    try:
        await store.claim("old", "f", "t", 0.01)
        await store.claim("new", "f", "t", 60)
        assert await gone(store, "old")
        await store.purge()
        import sqlite3

        with sqlite3.connect(tmp_path / "answers.sqlite3") as db:
            keys = [row[0] for row in db.execute("SELECT key FROM appcache_answers")]
        assert keys == ["new"]
    finally:
        await store.close()


def _claim_in_a_process(
    path: str, key: str, start: float, results: multiprocessing.Queue[bool | str]
) -> None:
    async def claim() -> bool:
        store = store_for("sqlite:///" + path, "/")
        await asyncio.sleep(max(0.0, start - time.time()))  # (all at one moment)
        try:
            await store.open()
            return await store.claim(key, "f", uuid.uuid4().hex, 30) is None
        finally:
            await store.close()

    try:
        results.put(asyncio.run(claim()))
    except Exception as error:
        results.put(repr(error))


def test_processes_sharing_one_sqlite_file_claim_a_key_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[bool | str] = context.Queue()
    path = str(tmp_path / "shared.sqlite3")
    start = time.time() + 2.5
    processes = [
        context.Process(target=_claim_in_a_process, args=(path, "POST /a k", start, results))
        for _ in range(8)
    ]
    for process in processes:
        process.start()
    won = [results.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(10)
    # (Each also opened the new file at that moment: switching it to WAL
    # failed with "database is locked" before the store retried it.)
    assert sorted(won) == [False] * 7 + [True]


async def test_the_sqlite_store_never_blocks_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    store = store_for("sqlite:///answers.sqlite3", str(tmp_path))
    threads: list[str] = []
    real = answer_store.SqliteStore._connect

    def connect(self: answer_store.SqliteStore) -> None:
        threads.append(threading.current_thread().name)
        real(self)

    monkeypatch.setattr(answer_store.SqliteStore, "_connect", connect)
    await store.open()
    try:
        await store.claim("k", "f", "t", 30)
    finally:
        await store.close()
    assert threads
    assert all(name.startswith("quart-appcache-answers") for name in threads)


async def test_an_unreachable_store_names_its_url() -> None:
    from quart_appcache import StoreError
    from tests.e2e.servers import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    store = store_for(url, "/")
    with pytest.raises(
        StoreError, match=rf"The write queue's store '{url}' failed: ConnectionError"
    ):
        await store.open()
    await store.close()


async def test_a_new_file_that_is_locked_for_a_moment_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Workers starting together on a new file: one's switch to WAL fails at
    # once with "database is locked" (seen in 2 of 15 runs of 8 processes).
    import sqlite3

    real_connect = sqlite3.connect
    refused: list[str] = []

    class Locked:
        def __init__(self, *args: object, **kwargs: object) -> None:
            self.db = real_connect(*args, **kwargs)  # type: ignore[arg-type]

        def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
            if sql.startswith("PRAGMA journal_mode") and len(refused) < 3:
                refused.append(sql)
                raise sqlite3.OperationalError("database is locked")
            return self.db.execute(sql, *args)

        def close(self) -> None:
            self.db.close()

    monkeypatch.setattr(answer_store.sqlite3, "connect", Locked)
    store = store_for("sqlite:///answers.sqlite3", str(tmp_path))
    await store.open()
    try:
        assert len(refused) == 3
        assert await store.claim("k", "f", "t", 30) is None
    finally:
        await store.close()
