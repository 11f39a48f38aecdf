"""The app the navigation-preload benchmark serves: one network-first page rule.

``BENCH_PRELOAD=1`` turns navigation preload on for it. ``/page`` takes
``BENCH_THINK_MS`` (default 20) to answer, as a page that reads a database
would, and says whether it was preloaded.
"""

from __future__ import annotations

import asyncio
import os

from quart import Quart, request

from quart_appcache import Appcache

THINK = float(os.environ.get("BENCH_THINK_MS", "20")) / 1000
PAGE = (
    '<!doctype html><html><head><link rel="icon" href="data:,">'
    '<script src="/appcache.js" data-sw="/sw.js" data-scope="/" defer></script></head>'
    '<body><h1 id="title">{title}</h1><p id="preload">{preload}</p></body></html>'
)

app = Quart(__name__)
app.config.update(
    APPCACHE_FALLBACK={"/": "/offline"},
    APPCACHE_RUNTIME=[
        {
            "match": "navigate",
            "strategy": "network-first",
            "preload": os.environ.get("BENCH_PRELOAD") == "1",
        }
    ],
)
appcache = Appcache(app)


@app.route("/")
async def index() -> str:
    return PAGE.format(title="home", preload="-")


@app.route("/offline")
async def offline() -> str:
    return PAGE.format(title="offline", preload="-")


@app.route("/page")
async def page() -> str:
    await asyncio.sleep(THINK)
    preload = request.headers.get("Service-Worker-Navigation-Preload", "none")
    return PAGE.format(title="page", preload=preload)


appcache.add_urls("/", "/offline")
