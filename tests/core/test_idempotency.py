"""The idempotency middleware with a raw ASGI app: what a server's cancellation leaves."""

from __future__ import annotations

import asyncio
from typing import Any

from quart_appcache.answer_store import Held, MemoryStore
from quart_appcache.idempotency import IdempotencyMiddleware, Writes
from quart_appcache.queue import check_queue

RULES = check_queue([{"match": "/api/notes"}], "APPCACHE_QUEUE")


class SlowStore(MemoryStore):
    """Takes a moment to record an answer, as a store on disk or over the network does."""

    def __init__(self) -> None:
        super().__init__()
        self.finishing = asyncio.Event()

    async def finish(self, key: str, held: Held, ttl: float) -> None:
        self.finishing.set()
        await asyncio.sleep(0.1)
        await super().finish(key, held, ttl)


def scope(key: str, root_path: str = "") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": root_path + "/api/notes",
        "root_path": root_path,
        "query_string": b"",
        "headers": [(b"idempotency-key", key.encode())],
    }


async def call(app: Any, key: str, root_path: str = "") -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    given = False

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": b"{}", "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope(key, root_path), receive, send)
    return sent


async def test_a_request_cancelled_while_its_answer_is_recorded_still_records_it() -> None:
    # (hypercorn cancels the app when the client's connection closes: the
    # answer being recorded then is the one a replay needs.)
    calls = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b'{"id": 1}'})

    store = SlowStore()
    middleware = IdempotencyMiddleware(app, Writes(RULES, store, None))
    request = asyncio.ensure_future(call(middleware, "k1"))
    await asyncio.wait_for(store.finishing.wait(), 5)
    request.cancel()
    await asyncio.gather(request, return_exceptions=True)
    replay = await call(middleware, "k1")
    assert replay[0]["status"] == 201
    assert replay[1]["body"] == b'{"id": 1}'
    assert calls == ["/api/notes"]
    await middleware.writes.close()


async def test_a_request_cancelled_before_its_answer_releases_the_key() -> None:
    calls = []
    started = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["path"])
        started.set()
        await asyncio.sleep(10)

    middleware = IdempotencyMiddleware(app, Writes(RULES, MemoryStore(), None))
    request = asyncio.ensure_future(call(middleware, "k2"))
    await asyncio.wait_for(started.wait(), 5)
    request.cancel()
    await asyncio.gather(request, return_exceptions=True)
    assert await middleware.writes.store.get("POST /api/notes k2") is None
    await middleware.writes.close()


async def test_one_key_under_two_url_prefixes_is_two_writes() -> None:
    # Mount("/{tenant}", app): the tenants' writes never answer each other.
    calls = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["root_path"])
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": scope["root_path"].encode()})

    middleware = IdempotencyMiddleware(app, Writes(RULES, MemoryStore(), None))
    for prefix in ("/a", "/b", "/a"):
        await call(middleware, "same", prefix)
    assert calls == ["/a", "/b"]
    replay = await call(middleware, "same", "/b")
    assert replay[1]["body"] == b"/b"
    await middleware.writes.close()


async def test_a_large_body_is_fingerprinted_off_the_event_loop(
    monkeypatch: Any,
) -> None:
    import threading

    from quart_appcache import idempotency

    threads: list[str] = []
    real = idempotency.hashlib.sha256

    def sha256(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(idempotency.hashlib, "sha256", sha256)
    for size in (100, idempotency.INLINE_HASH_BYTES + 1):
        await idempotency._fingerprint(scope("k"), b"x" * size)
    main = threading.current_thread().name
    assert threads[0] == main  # a small body: at once (a thread hop costs more)
    assert threads[1] != main
