"""A notes app, in Quart and in FastAPI, for the write-queue tests.

``POST /api/notes`` ``{"text": ...}`` inserts a row into the app's own SQLite
database and answers ``201 {"id", "text"}``. Every call of the handler is
counted in the same database, so tests can tell how often a write ran, across
worker processes. A body may ask for ``"status": 400`` (or any other) to be
answered instead, ``"fail_first": true`` for a 500 the first time its text is
seen, and ``"delay": seconds`` before the answer. ``GET /`` is a page with
the page client; ``GET /api/notes`` lists the notes.

Served by hypercorn or uvicorn through a module holding
``app = from_environment("quart")`` (or ``"fastapi"``), configured from the environment:
``NOTES_DB``, ``NOTES_STORE`` (``APPCACHE_QUEUE_STORE``) and
``NOTES_MAX_AGE`` (the rule's ``max_age``).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

# (At module level: FastAPI reads the endpoints' annotations from here.)
from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Notes</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/static/icon.png">
{script}</head>
<body><h1>Notes</h1></body></html>
"""


# How long a queued draft may wait (the expiry tests wait that long).
DRAFTS_MAX_AGE = 2


def queue_rule(max_age: float = 86400) -> list[dict[str, Any]]:
    """The app's queue rules: notes, and drafts that expire soon."""
    return [
        {"match": "/api/notes", "methods": ["POST", "PUT"], "max_age": max_age, "name": "notes"},
        {"match": "/api/drafts", "max_age": DRAFTS_MAX_AGE, "name": "drafts"},
    ]


class Notes:
    """The app's own database: notes and a count of handler calls."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT)")
            db.execute("CREATE TABLE IF NOT EXISTS calls (text TEXT)")

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    async def write(self, data: dict[str, Any], key: str | None) -> tuple[int, dict[str, Any]]:
        """Handle one POST (``key``: its Idempotency-Key): (status, JSON answer)."""
        text = str(data.get("text", ""))
        with self._db() as db:
            seen = db.execute("SELECT COUNT(*) FROM calls WHERE text = ?", (text,)).fetchone()[0]
            db.execute("INSERT INTO calls VALUES (?)", (text,))
        if data.get("delay"):
            await asyncio.sleep(float(data["delay"]))
        if data.get("status"):
            return int(data["status"]), {"error": f"asked for {data['status']}"}
        if data.get("fail_first") and seen == 0:
            return 500, {"error": "failing the first time"}
        with self._db() as db:
            row = db.execute("INSERT INTO notes (text) VALUES (?)", (text,)).lastrowid
        return 201, {"id": row, "text": text, "key": key}

    def rows(self, text: str) -> int:
        """How many notes have ``text``."""
        with self._db() as db:
            return int(
                db.execute("SELECT COUNT(*) FROM notes WHERE text = ?", (text,)).fetchone()[0]
            )

    def calls(self, text: str) -> int:
        """How often the handler ran for ``text``."""
        with self._db() as db:
            return int(
                db.execute("SELECT COUNT(*) FROM calls WHERE text = ?", (text,)).fetchone()[0]
            )

    def listing(self) -> list[dict[str, Any]]:
        """Every note."""
        with self._db() as db:
            return [{"id": i, "text": t} for i, t in db.execute("SELECT id, text FROM notes")]


def _icon(root: Path) -> None:
    static = root / "static"
    static.mkdir(parents=True, exist_ok=True)
    (static / "icon.png").write_bytes(b"\x89PNG\r\n\x1a\n")


def make_quart(root: Path, db: Path, **settings: Any) -> Any:
    """The Quart notes app."""
    from quart import Quart, jsonify, render_template_string, request

    from quart_appcache import Appcache

    _icon(root)
    notes = Notes(db)
    app = Quart("notes", root_path=str(root), instance_path=str(root / "instance"))
    app.config["APPCACHE_QUEUE"] = queue_rule()
    app.config.update({f"APPCACHE_{key.upper()}": value for key, value in settings.items()})

    @app.get("/")
    async def index() -> str:
        return await render_template_string(PAGE.format(script="{{ appcache_sw_script() }}"))

    @app.get("/api/notes")
    async def listing() -> Any:
        return jsonify(notes.listing())

    @app.post("/api/notes")
    @app.post("/api/drafts")
    async def write() -> Any:
        key = request.headers.get("Idempotency-Key")
        status, answer = await notes.write(await request.get_json(), key)
        return jsonify(answer), status

    appcache = Appcache(app)
    appcache.add_urls("/")
    appcache.add_folder(root / "static", "/static")
    app.notes = notes  # type: ignore[attr-defined]
    return app


def make_fastapi(root: Path, db: Path, **settings: Any) -> Any:
    """The FastAPI notes app."""
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles
    from fastapi.templating import Jinja2Templates

    from quart_appcache.starlette import Appcache

    _icon(root)
    notes = Notes(db)
    templates = Jinja2Templates(directory=str(root))
    app = FastAPI()
    app.mount("/static", StaticFiles(directory=root / "static"), name="static")

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        template = templates.env.from_string(PAGE.format(script="{{ appcache_sw_script() }}"))
        return HTMLResponse(template.render(request=request))

    @app.get("/api/notes")
    async def listing() -> list[dict[str, Any]]:
        return notes.listing()

    @app.post("/api/notes")
    @app.post("/api/drafts")
    async def write(request: Request) -> JSONResponse:
        key = request.headers.get("Idempotency-Key")
        status, answer = await notes.write(await request.json(), key)
        return JSONResponse(answer, status_code=status)

    settings.setdefault("queue", queue_rule())
    appcache = Appcache(app, templates=templates, base_dir=root, **settings)
    appcache.add_urls("/")
    appcache.add_static()
    app.state.notes = notes
    return app


def from_environment(framework: str) -> Any:
    """The app a server imports (``quart`` or ``fastapi``), configured from the environment."""
    root = Path(os.environ.get("NOTES_ROOT", "."))
    settings: dict[str, Any] = {"queue": queue_rule(float(os.environ.get("NOTES_MAX_AGE", 86400)))}
    if os.environ.get("NOTES_STORE"):
        settings["queue_store"] = os.environ["NOTES_STORE"]
    make = make_quart if framework == "quart" else make_fastapi
    return make(root, Path(os.environ["NOTES_DB"]), **settings)
