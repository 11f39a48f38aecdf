"""Where the server remembers the answers to queued writes (``APPCACHE_QUEUE_STORE``).

A key is first *claimed* (the write is running, for a lease), then *finished*
with the answer (kept for the rule's ``max_age``), or *released* when the
write failed and may run again. Claiming is atomic in every store, so of two
requests with one key, in two processes or on two hosts, one runs the write.

* ``sqlite:///path``: one file every worker process on the host shares (WAL
  mode; each claim is one ``BEGIN IMMEDIATE`` transaction). Calls run on one
  thread of the store's own, never on the event loop.
* ``redis://host:port/db``: redis-py's asyncio client, for several hosts; a
  claim is ``SET NX PX``, and Redis expires the keys itself.
* ``memory``: one process (tests).

No framework imports.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import ConfigError, StoreError

__all__ = ["Answer", "AnswerStore", "Held", "check_store_url", "store_for"]

T = TypeVar("T")
# A store call that takes longer than this fails (the request gets 503).
CALL_TIMEOUT = 10.0


@dataclass(frozen=True)
class Answer:
    """The answer a write got: status, headers and body (``dropped``: body bytes
    left out because the answer was over the limit)."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    dropped: int = 0

    def as_json(self) -> dict[str, Any]:
        """The answer as JSON-safe values."""
        return {
            "status": self.status,
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in self.headers],
            "body": base64.b64encode(self.body).decode("ascii"),
            "dropped": self.dropped,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Answer:
        """The answer :meth:`as_json` gave."""
        return cls(
            status=int(value["status"]),
            headers=tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in value["headers"]),
            body=base64.b64decode(value["body"]),
            dropped=int(value.get("dropped", 0)),
        )


@dataclass(frozen=True)
class Held:
    """What a store holds under a key: the request's fingerprint and, once the
    write finished, its answer (``None`` while it runs)."""

    fingerprint: str
    answer: Answer | None
    token: str = ""


def _dumps(held: Held) -> str:
    answer = held.answer.as_json() if held.answer is not None else None
    return json.dumps({"fingerprint": held.fingerprint, "token": held.token, "answer": answer})


def _loads(raw: str | bytes) -> Held:
    value = json.loads(raw)
    answer = value.get("answer")
    return Held(
        fingerprint=value["fingerprint"],
        answer=Answer.from_json(answer) if answer is not None else None,
        token=value.get("token", ""),
    )


class AnswerStore(ABC):
    """One app's answer store. Every method raises :class:`StoreError` when the
    store fails."""

    def __init__(self, url: str) -> None:
        self.url = url

    @abstractmethod
    async def open(self) -> None:
        """Connect (and create what is missing)."""

    @abstractmethod
    async def close(self) -> None:
        """Disconnect."""

    @abstractmethod
    async def claim(self, key: str, fingerprint: str, token: str, lease: float) -> Held | None:
        """Claim ``key`` for ``lease`` seconds: ``None`` when this caller got it, else
        what the store holds (a write running elsewhere, or its answer)."""

    @abstractmethod
    async def finish(self, key: str, held: Held, ttl: float) -> None:
        """Keep the write's answer under ``key`` for ``ttl`` seconds."""

    @abstractmethod
    async def release(self, key: str, token: str) -> None:
        """Give up the claim made with ``token`` (the write may run again)."""

    @abstractmethod
    async def get(self, key: str) -> Held | None:
        """What the store holds under ``key``, if anything."""

    async def purge(self) -> None:  # noqa: B027 (a store that expires keys itself)
        """Delete what has expired."""


class MemoryStore(AnswerStore):
    """One process's answers, in a dict."""

    def __init__(self, url: str = "memory") -> None:
        super().__init__(url)
        self._items: dict[str, tuple[Held, float]] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def claim(self, key: str, fingerprint: str, token: str, lease: float) -> Held | None:
        held = self._live(key)
        if held is not None:
            return held
        self._items[key] = (Held(fingerprint, None, token), time.time() + lease)
        return None

    async def finish(self, key: str, held: Held, ttl: float) -> None:
        self._items[key] = (held, time.time() + ttl)

    async def release(self, key: str, token: str) -> None:
        held = self._live(key)
        if held is not None and held.answer is None and held.token == token:
            del self._items[key]

    async def get(self, key: str) -> Held | None:
        return self._live(key)

    async def purge(self) -> None:
        now = time.time()
        for key in [key for key, (_, expires) in self._items.items() if expires <= now]:
            del self._items[key]

    def _live(self, key: str) -> Held | None:
        item = self._items.get(key)
        return item[0] if item is not None and item[1] > time.time() else None


_SETUP = (
    "PRAGMA journal_mode=WAL",
    "CREATE TABLE IF NOT EXISTS appcache_answers "
    "(key TEXT PRIMARY KEY, held TEXT NOT NULL, expires REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS appcache_answers_expires ON appcache_answers (expires)",
)


class SqliteStore(AnswerStore):
    """Answers in one SQLite file, shared by the processes of one host."""

    def __init__(self, url: str, path: str) -> None:
        super().__init__(url)
        self.path = path
        self._executor: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="quart-appcache-answers")
        await self._run(self._connect)

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        executor.shutdown(wait=False)

    def _connect(self) -> None:
        if self._db is not None:
            return
        folder = os.path.dirname(self.path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=CALL_TIMEOUT, isolation_level=None)
        try:
            deadline = time.monotonic() + CALL_TIMEOUT
            for statement in _SETUP:
                while True:
                    try:
                        db.execute(statement)
                        break
                    except sqlite3.OperationalError as error:
                        # Workers starting at once on a new file: switching it to
                        # WAL fails at once ("locked") rather than waiting.
                        if "locked" not in str(error) or time.monotonic() > deadline:
                            raise
                        time.sleep(0.01)
        except BaseException:
            db.close()
            raise
        self._db = db

    def _disconnect(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()

    async def claim(self, key: str, fingerprint: str, token: str, lease: float) -> Held | None:
        def claim(db: sqlite3.Connection) -> Held | None:
            now = time.time()
            # A key answered before needs no write lock (replays are the common case).
            row = db.execute(
                "SELECT held FROM appcache_answers WHERE key = ? AND expires > ?", (key, now)
            ).fetchone()
            if row is not None:
                return _loads(row[0])
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT held FROM appcache_answers WHERE key = ? AND expires > ?", (key, now)
                ).fetchone()
                if row is None:
                    db.execute(
                        "INSERT OR REPLACE INTO appcache_answers VALUES (?, ?, ?)",
                        (key, _dumps(Held(fingerprint, None, token)), now + lease),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return _loads(row[0]) if row is not None else None

        return await self._run_db(claim)

    async def finish(self, key: str, held: Held, ttl: float) -> None:
        def finish(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO appcache_answers VALUES (?, ?, ?)",
                (key, _dumps(held), time.time() + ttl),
            )

        await self._run_db(finish)

    async def release(self, key: str, token: str) -> None:
        def release(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT held FROM appcache_answers WHERE key = ?", (key,)
                ).fetchone()
                if row is not None:
                    held = _loads(row[0])
                    if held.answer is None and held.token == token:
                        db.execute("DELETE FROM appcache_answers WHERE key = ?", (key,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        await self._run_db(release)

    async def get(self, key: str) -> Held | None:
        def get(db: sqlite3.Connection) -> Held | None:
            row = db.execute(
                "SELECT held FROM appcache_answers WHERE key = ? AND expires > ?",
                (key, time.time()),
            ).fetchone()
            return _loads(row[0]) if row is not None else None

        return await self._run_db(get)

    async def purge(self) -> None:
        def purge(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM appcache_answers WHERE expires <= ?", (time.time(),))

        await self._run_db(purge)

    async def _run_db(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            if self._db is None:
                self._connect()
            assert self._db is not None  # (connected just above)
            return work(self._db)

        return await self._run(run)

    async def _run(self, work: Callable[[], T]) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="quart-appcache-answers")
        future = asyncio.get_running_loop().run_in_executor(self._executor, work)
        try:
            return await asyncio.wait_for(future, CALL_TIMEOUT)
        except (sqlite3.Error, OSError, TimeoutError) as error:
            raise _failed(self.url, error) from error


# What the key holds, or (nil) it is now the caller's: one atomic round trip.
_CLAIM = """
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""
# Deletes a claim only while it is still the caller's and unfinished.
_RELEASE = """
local held = redis.call('GET', KEYS[1])
if held and cjson.decode(held)['token'] == ARGV[1] and cjson.decode(held)['answer'] == cjson.null
then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisStore(AnswerStore):
    """Answers in Redis, shared by every host."""

    PREFIX = "quart-appcache:answer:"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._client: Any = None

    async def open(self) -> None:
        from redis.asyncio import Redis

        if self._client is None:
            self._client = Redis.from_url(
                self.url, socket_timeout=CALL_TIMEOUT, socket_connect_timeout=CALL_TIMEOUT
            )
        await self._call(lambda client: client.ping())

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def claim(self, key: str, fingerprint: str, token: str, lease: float) -> Held | None:
        pending = _dumps(Held(fingerprint, None, token))
        raw = await self._call(
            lambda client: client.eval(
                _CLAIM, 1, self.PREFIX + key, pending, max(1, int(lease * 1000))
            )
        )
        return _loads(raw) if raw is not None else None

    async def finish(self, key: str, held: Held, ttl: float) -> None:
        await self._call(
            lambda client: client.set(self.PREFIX + key, _dumps(held), px=max(1, int(ttl * 1000)))
        )

    async def release(self, key: str, token: str) -> None:
        await self._call(lambda client: client.eval(_RELEASE, 1, self.PREFIX + key, token))

    async def get(self, key: str) -> Held | None:
        raw = await self._call(lambda client: client.get(self.PREFIX + key))
        return _loads(raw) if raw is not None else None

    async def _call(self, call: Callable[[Any], Any]) -> Any:
        from redis.exceptions import RedisError

        if self._client is None:
            await self.open()
        try:
            return await asyncio.wait_for(call(self._client), CALL_TIMEOUT)
        except (RedisError, OSError, TimeoutError) as error:
            raise _failed(self.url, error) from error


def _failed(url: str, error: BaseException) -> StoreError:
    cause = f"{type(error).__name__}: {error}".rstrip(".") if str(error) else type(error).__name__
    failure = StoreError(f"The write queue's store {url!r} failed: {cause}.")
    failure.cause = cause
    return failure


def check_store_url(value: object, label: str) -> str | None:
    """Check ``APPCACHE_QUEUE_STORE``: ``sqlite:///path``, ``redis://...`` or ``memory``.

    Raises:
        ConfigError: another kind of value, or ``redis://`` without redis-py.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if value == "memory":
            return value
        if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
            return value
        if value.startswith(("redis://", "rediss://", "unix://")):
            try:
                import redis.asyncio  # noqa: F401
            except ImportError:
                raise ConfigError(
                    f"{label} is {value!r}, but redis-py is not installed; install "
                    "quart-appcache[redis]."
                ) from None
            return value
    raise ConfigError(
        f"{label} is {value!r}; give 'sqlite:///path/to/file.sqlite3' (one host), "
        "'redis://host:6379/0' (several hosts) or 'memory' (one process, tests)."
    )


def store_for(url: str, base: str) -> AnswerStore:
    """The store a checked ``APPCACHE_QUEUE_STORE`` names (relative SQLite paths
    resolve against ``base``)."""
    if url == "memory":
        return MemoryStore()
    if url.startswith("sqlite:///"):
        return SqliteStore(url, os.path.join(base, url.removeprefix("sqlite:///")))
    return RedisStore(url)
