"""The apps under test: quart_appcache (Quart and Starlette) and Flask-Appcache over one tree."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from quart import Quart, render_template

from quart_appcache import Appcache

# A template view of a few KiB, rendered like a real page.
PAGE = """<!doctype html><html><head><title>{{ title }}</title></head><body>
<h1>{{ title }}</h1>{% for row in rows %}<p class="row">{{ loop.index }}: {{ row }}</p>
{% endfor %}</body></html>"""
ROWS = [f"row {i} " + "lorem ipsum dolor sit amet " * 3 for i in range(40)]


def _templates(root: Path) -> None:
    # File templates, as real apps have: Jinja compiles each once and caches it.
    folder = root / "templates"
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / "page.html"
    if not page.exists() or page.read_text() != PAGE:
        page.write_text(PAGE)


def quart_app(
    root: Path,
    *,
    views: int = 0,
    io_delay: float = 0.0,
    folder: bool = True,
    debug: bool = False,
    **config: Any,
) -> tuple[Quart, Appcache]:
    """A Quart app over ``root/static`` with ``views`` template views."""
    _templates(root)
    app = Quart("bench", root_path=str(root), static_folder=str(root / "static"))
    app.debug = debug
    # The big tree holds files of 10-50 MiB, over the default entry limit.
    app.config["APPCACHE_MAX_ENTRY_BYTES"] = None
    app.config.update(config)
    appcache = Appcache(app)
    for index in range(views):

        async def view(index: int = index) -> str:
            if io_delay:
                await asyncio.sleep(io_delay)
            return await render_template("page.html", title=f"page {index}", rows=ROWS)

        app.add_url_rule(f"/page/{index}", f"page{index}", view)
        appcache.add_urls(f"/page/{index}")
    if folder:
        appcache.add_folder("static")
    return app, appcache


def starlette_app(
    root: Path,
    *,
    views: int = 0,
    io_delay: float = 0.0,
    folder: bool = True,
    **settings: Any,
) -> Any:
    """The same app on Starlette, through quart_appcache.starlette."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    from starlette.templating import Jinja2Templates

    from quart_appcache.starlette import Appcache as StarletteAppcache

    _templates(root)
    templates = Jinja2Templates(directory=root / "templates")
    routes = []
    for index in range(views):

        async def view(request: Request, index: int = index) -> Response:
            if io_delay:
                await asyncio.sleep(io_delay)
            context = {"title": f"page {index}", "rows": ROWS}
            return templates.TemplateResponse(request, "page.html", context)

        routes.append(Route(f"/page/{index}", view))
    app = Starlette(routes=routes)
    settings.setdefault("max_entry_bytes", None)  # (as for the Quart app)
    appcache = StarletteAppcache(app, base_dir=root, **settings)
    for index in range(views):
        appcache.add_urls(f"/page/{index}")
    if folder:
        appcache.add_folder("static")
    return app, appcache


def flask_app(root: Path, *, views: int = 0, io_delay: float = 0.0, folder: bool = True) -> Any:
    """The same with Flask-Appcache 0.1.2 (views added one per call: its closure bug)."""
    from flask import Flask
    from flask import render_template as flask_render
    from flask_appcache import Appcache as FlaskAppcache

    _templates(root)
    app = Flask("bench", root_path=str(root), static_folder=str(root / "static"))
    appcache = FlaskAppcache(app)
    for index in range(views):

        def view(index: int = index) -> str:
            if io_delay:
                time.sleep(io_delay)
            return flask_render("page.html", title=f"page {index}", rows=ROWS)

        app.add_url_rule(f"/page/{index}", f"page{index}", view)
        appcache.add_urls(f"/page/{index}")
    if folder:
        appcache.add_folder(str(root / "static"), base="/static")
    return appcache
