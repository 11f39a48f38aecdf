"""An example app that works offline: `make run` serves it on 127.0.0.1:5000.

Visit http://127.0.0.1:5000/ once, then stop the server (or go offline in
the browser's developer tools) and reload: the page, its CSS, JS and image
come from the service worker's cache, and any other page shows /offline.
"""

from __future__ import annotations

import os
from typing import Any

from quart import Quart, render_template, request

from quart_appcache import Appcache

appcache = Appcache()

VISITED_PAGES = {"match": "navigate", "strategy": "network-first", "timeout": 3, "max_entries": 50}
WEB_MANIFEST = {
    "name": "quart_appcache example",
    "short_name": "Offline example",
    "description": "A page that works offline, updates safely and installs like an app.",
    "theme_color": "#22aa66",
    "background_color": "#ffffff",
}


def create_app(**config: Any) -> Quart:
    """Build the example app (an app factory, as most Quart apps have).

    Args:
        config: ``APPCACHE_*`` settings that override the example's own.
    """
    app = Quart(__name__)
    app.config.update(
        APPCACHE_FALLBACK={"/": "/offline"},
        APPCACHE_NETWORK=["*"],
        # How a new version takes over: "pinned" (each open tab keeps its own),
        # "waiting" or "immediate".
        APPCACHE_SW_UPDATE=os.environ.get("APPCACHE_SW_UPDATE", "pinned"),
        # The kill switch: set it to retire the offline bundle from every browser.
        APPCACHE_SW_UNREGISTER=os.environ.get("APPCACHE_SW_UNREGISTER") == "1",
        # Pages visited online (like /live) come back offline from a runtime cache.
        APPCACHE_RUNTIME=[VISITED_PAGES],
        # The ready-made prompt: "ready to work offline", and "a new version".
        APPCACHE_SW_PROMPT=True,
        # Offline writes: a note added offline is queued by the worker and
        # saved once when the server is back (answers kept in SQLite, in the
        # app's instance folder).
        APPCACHE_QUEUE=[{"match": "/api/notes", "methods": ["POST"], "name": "notes"}],
        # Installable: a web app manifest and icons generated from one image.
        APPCACHE_WEB_MANIFEST=WEB_MANIFEST,
        APPCACHE_ICON="icon.png",
    )
    app.config.update(config)
    appcache.init_app(app)

    @app.context_processor
    async def base() -> dict[str, Any]:
        # The app's URL prefix (ASGI root_path) for the templates' links.
        return {"base": request.root_path.rstrip("/")}

    @app.route("/")
    async def index() -> str:
        return await render_template("index.html", title="Works offline")

    @app.route("/offline")
    async def offline() -> str:
        return await render_template("offline.html", title="You are offline")

    @app.route("/live")
    async def live() -> str:
        # Not tracked: online it answers; offline, the copy kept by the runtime
        # rule once it was seen, else the FALLBACK page /offline.
        return await render_template("live.html", title="Live page")

    @app.route("/api/echo", methods=["POST"])
    async def echo() -> dict[str, str]:
        return {"ok": "yes"}

    notes: list[dict[str, Any]] = []  # (the example's database)

    @app.post("/api/notes")
    async def add_note() -> tuple[dict[str, Any], int]:
        text = str((await request.get_json(silent=True) or {}).get("text", "")).strip()
        if not text:
            return {"error": "a note needs some text"}, 400
        notes.append({"id": len(notes) + 1, "text": text})
        return notes[-1], 201

    appcache.add_urls("/", "/offline")
    appcache.add_folder("static", base="/static")
    appcache.add_excluded_urls("/static/drafts")
    return app


app = create_app()
