"""The example app on FastAPI: `make run EXAMPLE=fastapi` serves it on 127.0.0.1:5000.

Same pages, static files and offline behaviour as the Quart example
(examples/app.py), on the Starlette/FastAPI adapter. Its lifespan opens a
database the pages read from: the extension finalizes after it has started,
so the in-process renders see it (`request.state.db`).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from quart_appcache.starlette import Appcache

HERE = Path(__file__).parent


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE pages (name TEXT PRIMARY KEY, title TEXT)")
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    db.executemany(
        "INSERT INTO pages VALUES (?, ?)",
        [("index", "Works offline"), ("offline", "You are offline"), ("live", "Live page")],
    )
    yield {"db": db}
    db.close()


class Note(BaseModel):
    text: str


def base(request: Request) -> dict[str, Any]:
    """The app's URL prefix for the templates' links (ASGI root_path)."""
    return {"base": request.scope.get("root_path", "").rstrip("/")}


def create_app() -> FastAPI:
    """Build the example app (an app factory: `--factory examples.fastapi_app:create_app`)."""
    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=HERE / "templates", context_processors=[base])
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def page(request: Request, name: str) -> HTMLResponse:
        (title,) = request.state.db.execute(
            "SELECT title FROM pages WHERE name = ?", (name,)
        ).fetchone()
        return templates.TemplateResponse(request, f"{name}.html", {"title": title})

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        return page(request, "index")

    @app.get("/offline", response_class=HTMLResponse)
    async def offline(request: Request) -> HTMLResponse:
        return page(request, "offline")

    @app.get("/live", response_class=HTMLResponse)
    async def live(request: Request) -> HTMLResponse:
        # Not tracked: online it answers; offline, the copy kept by the runtime
        # rule once it was seen, else the FALLBACK page /offline.
        return page(request, "live")

    @app.post("/api/echo")
    async def echo() -> dict[str, str]:
        return {"ok": "yes"}

    @app.post("/api/notes", status_code=201)
    async def add_note(note: Note, request: Request) -> dict[str, Any]:
        # Queued by the worker when offline, applied once (queue= below).
        row = request.state.db.execute("INSERT INTO notes (text) VALUES (?)", (note.text,))
        return {"id": row.lastrowid, "text": note.text}

    appcache = Appcache(
        app,
        templates=templates,
        fallback={"/": "/offline"},
        sw_update=os.environ.get("APPCACHE_SW_UPDATE", "pinned"),
        sw_prompt=True,
        sw_unregister=os.environ.get("APPCACHE_SW_UNREGISTER") == "1",
        build_dir=os.environ.get("APPCACHE_BUILD_DIR") or None,
        runtime=[
            {"match": "navigate", "strategy": "network-first", "timeout": 3, "max_entries": 50}
        ],
        # Offline writes: the answers are kept in appcache-queue.sqlite3 in the
        # working folder (APPCACHE_QUEUE_STORE="redis://..." for several hosts).
        queue=[{"match": "/api/notes", "methods": ["POST"], "name": "notes"}],
        queue_store=os.environ.get("APPCACHE_QUEUE_STORE") or None,
        web_manifest={
            "name": "quart_appcache example (FastAPI)",
            "short_name": "Offline example",
            "theme_color": "#22aa66",
            "background_color": "#ffffff",
        },
        icon=HERE / "icon.png",
    )
    appcache.add_urls("/", "/offline")
    appcache.add_static("static")
    appcache.add_excluded_urls("/static/drafts")
    return app


app = create_app()
