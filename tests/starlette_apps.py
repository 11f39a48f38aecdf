"""A plain Starlette app for the adapter's tests, and a client that runs its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from quart_appcache.starlette import Appcache, get_appcache

from .conftest import write


def starlette_app(
    root: Path, *, init: bool = True, events: list[str] | None = None, **settings: Any
) -> tuple[Starlette, Appcache]:
    """A Starlette app with ``/`` (reads ``request.state.db``), ``/offline`` and ``/static``."""
    write(root / "static" / "app.js", "console.log('app');\n")
    write(root / "static" / "css" / "app.css", "body { color: red; }\n")
    seen = events if events is not None else []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        seen.append("startup")
        yield {"db": {"title": "home from the database"}}
        seen.append("shutdown")

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(f"<h1>{request.state.db['title']}</h1>")

    async def offline(request: Request) -> PlainTextResponse:
        return PlainTextResponse("offline")

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/offline", offline),
            Mount("/static", StaticFiles(directory=root / "static"), name="static"),
        ],
        lifespan=lifespan,
    )
    settings.setdefault("base_dir", root)
    appcache = Appcache(app, **settings) if init else Appcache(**settings)
    return app, appcache


def client(app: Starlette, root_path: str = "") -> httpx.AsyncClient:
    """A client straight into the app, without its lifespan (like a plain test client)."""
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@asynccontextmanager
async def started(app: Starlette, root_path: str = "") -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan as a server does, and give a client whose requests
    carry the lifespan state, as servers put it in every request's scope."""
    site = get_appcache(app).site(app)
    async with site.host.lifespan():
        state = dict(site.host.state or {})

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            await app({**scope, "state": dict(state)}, receive, send)

        transport = httpx.ASGITransport(app=with_state, root_path=root_path)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
