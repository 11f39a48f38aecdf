"""The app the serving benchmarks start under uvicorn and hypercorn.

``BENCH_ROOT`` points at a generated tree. ``/const`` answers a constant
string as long as the finalized manifest, so the two routes differ only in
what the extension does per request.
"""

from __future__ import annotations

import os
from pathlib import Path

from quart import Quart, Response

from benchmarks.apps import quart_app

app: Quart
app, appcache = quart_app(Path(os.environ["BENCH_ROOT"]), views=20)
_constant: dict[str, bytes] = {}


@app.route("/const")
async def const() -> Response:
    body = _constant.get("body")
    if body is None:
        artifact = await appcache.site(app).artifact("manifest")
        body = _constant["body"] = b"x" * len(artifact.body)
    return Response(body, content_type="text/plain; charset=utf-8")
