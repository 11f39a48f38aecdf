"""The app the browser benchmarks serve: one page and a generated bundle.

``BENCH_ROOT`` holds ``static/`` (the bundle); ``BENCH_WORKER=workbox`` serves
the documented Workbox recipe (``templates/workbox-sw.js``, Workbox in
``static/workbox/``) instead of the generated worker. The same page client
registers either, so both install the same entries. The bundle is computed
live, so the update figures need no restart.
"""

from __future__ import annotations

import os
from pathlib import Path

from quart import Quart, render_template_string

from quart_appcache import Appcache

ROOT = Path(os.environ["BENCH_ROOT"]).resolve()
PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '<link rel="icon" href="data:,"><title>bundle</title>{{ appcache_head() }}</head>'
    "<body><h1>bundle</h1></body></html>"
)

app = Quart(__name__, root_path=str(ROOT), template_folder=str(ROOT / "templates"))
# Computed live, as in debug mode, so a changed file makes a new version
# without a restart (the update figures).
app.config["APPCACHE_FINALIZE"] = False
if os.environ.get("BENCH_WORKER") == "workbox":
    app.config["APPCACHE_SW_TEMPLATE"] = "workbox-sw.js"
appcache = Appcache(app)


@app.route("/")
async def index() -> str:
    return await render_template_string(PAGE)


appcache.add_urls("/")
appcache.add_folder("static")
appcache.add_excluded_urls("/static/workbox/")  # Workbox need not precache itself
