"""Live mode (debug, before startup) with a broken tracked folder: the app's
other routes answer as if the extension were not there, on both adapters."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from quart import Response
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..conftest import AppFactory, StarletteFactory
from ..starlette_apps import client as starlette_client

API_HEADERS = {"Cache-Control": "max-age=60", "X-Mine": "1"}


async def get_quart(app: Any, path: str) -> tuple[int, dict[str, str], bytes]:
    response = await app.test_client().get(path)
    return response.status_code, dict(response.headers), await response.get_data()


def quart_debug_app(make_app: AppFactory) -> tuple[Any, Path, Callable[..., Any]]:
    app, appcache = make_app(debug=True)

    @app.route("/api/items")
    async def items() -> Response:
        return Response('{"items": []}', headers=API_HEADERS, mimetype="application/json")

    appcache.add_folder("static")
    return app, Path(app.root_path) / "static", get_quart


async def get_starlette(app: Any, path: str) -> tuple[int, dict[str, str], bytes]:
    async with starlette_client(app) as http:
        response: httpx.Response = await http.get(path)
    return response.status_code, dict(response.headers), response.content


def starlette_debug_app(make_starlette: StarletteFactory) -> tuple[Any, Path, Callable[..., Any]]:
    app, appcache = make_starlette(debug=True)

    async def items(request: Request) -> JSONResponse:
        return JSONResponse({"items": []}, headers=API_HEADERS)

    app.add_route("/api/items", items)
    appcache.add_static("static")
    root = Path(appcache.site(app).host.root_path)
    return app, root / "static", get_starlette


@pytest.fixture(params=["quart", "starlette"])
def debug_app(
    request: pytest.FixtureRequest, make_app: AppFactory, make_starlette: StarletteFactory
) -> tuple[Any, Path, Callable[..., Any]]:
    if request.param == "quart":
        return quart_debug_app(make_app)
    return starlette_debug_app(make_starlette)


def break_folder(static: Path, how: str) -> str:
    """Break the tracked folder; what the error names."""
    if how == "broken-link":
        (static / "gone.js").symlink_to(static / "nowhere.js")
        return "broken symbolic link"
    name = os.fsencode(static) + b"/caf\xe9.js"  # Latin-1, not UTF-8
    fd = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644)
    os.close(fd)
    return "not valid UTF-8"


@pytest.mark.parametrize("how", ["broken-link", "non-utf8-name"])
async def test_a_broken_folder_leaves_untracked_routes_alone_and_logs_once(
    debug_app: tuple[Any, Path, Callable[..., Any]], how: str, caplog: pytest.LogCaptureFixture
) -> None:
    app, static, get = debug_app
    named = break_folder(static, how)
    with caplog.at_level(logging.ERROR, logger="quart_appcache"):
        for _ in range(3):
            status, headers, body = await get(app, "/api/items")
            assert status == 200
            assert json.loads(body) == {"items": []}
            assert headers["cache-control"] == "max-age=60"  # left alone
            assert headers["x-mine"] == "1"
        status, headers, body = await get(app, "/manifest.appcache")
        assert status == 500
        assert headers["cache-control"] == "no-store"
        assert named in body.decode("utf-8")  # debug: the reason, as text
        # A tracked file still answers, without the tracked headers meanwhile.
        status, headers, _ = await get(app, "/static/app.js")
        assert status == 200
        assert "must-revalidate" not in headers.get("cache-control", "")
        assert "no-cache" not in headers.get("cache-control", "")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert named in errors[0].getMessage()


# Run as an unprivileged user: root reads every folder whatever its mode.
UNREADABLE = """
import asyncio, json, os, sys
from pathlib import Path

framework, root = sys.argv[1], Path(sys.argv[2])
out = {}

async def main():
    if framework == "quart":
        from quart import Quart
        from quart_appcache import Appcache

        app = Quart("unreadable", root_path=str(root))
        app.debug = True

        @app.route("/api/items")
        async def items():
            return {"items": []}, 200, {"Cache-Control": "max-age=60"}

        Appcache(app).add_folder("static")
        client = app.test_client()

        async def get(path):
            response = await client.get(path)
            return response.status_code, response.headers.get("Cache-Control"), (await response.get_data()).decode()
    else:
        import httpx
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route
        from quart_appcache.starlette import Appcache

        async def items(request):
            return JSONResponse({"items": []}, headers={"Cache-Control": "max-age=60"})

        app = Starlette(routes=[Route("/api/items", items)])
        Appcache(app, debug=True, base_dir=root).add_folder("static")
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

        async def get(path):
            response = await http.get(path)
            return response.status_code, response.headers.get("cache-control"), response.text

    await get("/manifest.appcache")  # everything imported while still root
    os.chmod(root / "static" / "private", 0)
    os.setgid(65534)
    os.setuid(65534)
    out["api"] = await get("/api/items")
    out["api_again"] = await get("/api/items")
    out["manifest"] = await get("/manifest.appcache")

asyncio.run(main())
print(json.dumps(out))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to an unprivileged user")
@pytest.mark.parametrize("framework", ["quart", "starlette"])
def test_an_unreadable_folder_leaves_untracked_routes_alone(framework: str) -> None:
    root = Path(tempfile.mkdtemp(prefix="appcache-unreadable-"))
    try:
        os.chmod(root, 0o755)
        (root / "static" / "private").mkdir(parents=True)
        (root / "static" / "app.js").write_text("app")
        (root / "static" / "private" / "secret.js").write_text("secret")
        for path in (root / "static", root / "static" / "private"):
            os.chmod(path, 0o755)
        done = subprocess.run(
            [sys.executable, "-c", UNREADABLE, framework, str(root)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout.splitlines()[-1])
        assert out["api"][:2] == [200, "max-age=60"]
        assert out["api_again"][:2] == [200, "max-age=60"]
        status, cache_control, body = out["manifest"]
        assert (status, cache_control) == (500, "no-store")
        assert "Cannot list" in body
        assert "private" in body
        assert "Permission denied" in body
        # Logged once, for three requests.
        assert done.stderr.count("the offline bundle is unavailable") == 1, done.stderr
    finally:
        os.chmod(root / "static" / "private", 0o755)
        shutil.rmtree(root)
