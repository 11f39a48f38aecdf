"""The idempotency middleware's cost per request, against the same route without it.

A Starlette app with ``POST /api/notes`` (JSON in, JSON out, no database) is
driven in-process through ASGI, one request after another, so what is
measured is the middleware and its store, not a server or a socket. Each
variant runs the same requests; the rounds alternate the order.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.measure import Row, Series

REPO = Path(__file__).resolve().parents[1]
BODY = json.dumps({"text": "written on a train"}).encode()


def _app(root: Path, store: str | None) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from quart_appcache.starlette import Appcache

    async def add(request: Request) -> JSONResponse:
        data = await request.json()
        return JSONResponse({"id": 1, "text": data["text"]}, status_code=201)

    app = Starlette(routes=[Route("/api/notes", add, methods=["POST"])])
    settings: dict[str, Any] = {"base_dir": root, "sw_url": None, "precache_url": None}
    if store is not None:
        settings["queue"] = [{"match": "/api/notes", "methods": ["POST"]}]
        settings["queue_store"] = store
    Appcache(app, **settings)
    return app


async def _request(app: Any, key: str | None) -> int:
    headers = [(b"content-type", b"application/json")]
    if key is not None:
        headers.append((b"idempotency-key", key.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/notes",
        "raw_path": b"/api/notes",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _per_request(app: Any, count: int, keys: Callable[[int], str | None]) -> float:
    started = time.perf_counter()
    for index in range(count):
        status = await _request(app, keys(index))
        if status != 201:
            raise RuntimeError(f"the route answered {status}")
    return (time.perf_counter() - started) / count


def queue(ctx: Any) -> list[Row]:
    """Per request: the route bare, and through the middleware without a key, with a new
    key, and with a key answered before, on SQLite and on Redis."""
    sys.path.insert(0, str(REPO))
    from tests.redis_server import redis_server

    count = 50 if ctx.smoke else 2000
    root = ctx.data / "queue"
    root.mkdir(parents=True, exist_ok=True)
    with redis_server(ctx.data / "redis") as redis_url:
        stores = {"SQLite": f"sqlite:///{root / 'answers.sqlite3'}", "Redis": redis_url}
        apps = {"bare": _app(root, None), **{name: _app(root, url) for name, url in stores.items()}}
        series: dict[str, Series] = {"bare": Series("the route without the middleware", "µs")}
        runs: dict[str, tuple[Any, Callable[[int], str | None]]] = {"bare": (apps["bare"], _none)}
        for name in stores:
            replayed = str(uuid.uuid4())
            for what, keys in (
                ("no key", _none),
                ("a new key", lambda _: str(uuid.uuid4())),
                ("a replayed key", lambda _, key=replayed: key),
            ):
                label = f"{name}, {what}"
                series[label] = Series(label, "µs")
                runs[label] = (apps[name], keys)

        async def measure() -> None:
            for app, keys in runs.values():  # warm up: connect, create, first answers
                await _per_request(app, 20, keys)
            for index in range(ctx.rounds):
                order = list(runs) if index % 2 == 0 else list(reversed(runs))
                for label in order:
                    app, keys = runs[label]
                    seconds = await _per_request(app, count, keys)
                    series[label].values.append(seconds * 1e6)
            for app in apps.values():
                site = app.state.appcache.site(app)
                await site.on_shutdown()

        asyncio.run(measure())

    bare = series.pop("bare")
    rows = []
    # The middleware's own cost, over the bare route's median.
    overheads = {"no key": 5.0, "a new key": 1500.0, "a replayed key": 1000.0}
    for label, measured in series.items():
        limit = overheads[label.split(", ", 1)[1]]
        overhead = measured.median - bare.median
        rows.append(
            Row(
                "queue, per request",
                f"{label} (overhead {overhead:,.1f} µs)",
                measured,
                bare,
                measured.median / bare.median,
                f"overhead ≤ {limit:g} µs",
                None if ctx.smoke else overhead <= limit,
            )
        )
    return rows


def _none(_: int) -> None:
    return None
