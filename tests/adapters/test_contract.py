"""One contract, run against both adapters: what a Quart app and a Starlette app
with the same declarations and content must both do.

Declarations, the version, serving (ETag, 304, HEAD, gzip, 405, 410), cache
headers on tracked and untracked routes, startup success and failure, and
builds. A behaviour that drifts in one adapter fails here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from quart import Quart, Response
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.responses import Response as StarletteResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from quart_appcache import Appcache as QuartAppcache
from quart_appcache.build import RECORD
from quart_appcache.starlette import Appcache as StarletteAppcache

from ..conftest import write

PAGE = "<h1>home</h1>"
ARTIFACTS = ("/manifest.appcache", "/precache-manifest.json", "/sw.js", "/appcache.js")


class Adapter:
    """An app of one framework: "/" and "/offline" views, an untracked "/api",
    a static folder, and the extension initialised with ``settings``."""

    def __init__(self, name: str, root: Path, **settings: Any) -> None:
        self.name = name
        self.root = root
        write(root / "static" / "app.js", "console.log('app');\n")
        write(root / "static" / "css" / "app.css", "body { color: red; }\n")
        self.pages = {"/": PAGE, "/offline": "<h1>offline</h1>"}
        if name == "quart":
            self.app: Any = self._quart(settings)
        else:
            self.app = self._starlette(settings)

    def _quart(self, settings: dict[str, Any]) -> Quart:
        app = Quart("contract", root_path=str(self.root))
        app.config.update({f"APPCACHE_{key.upper()}": value for key, value in settings.items()})

        @app.route("/")
        async def index() -> str:
            return self.pages["/"]

        @app.route("/offline")
        async def offline() -> str:
            return self.pages["/offline"]

        @app.route("/api")
        async def api() -> Response:
            return Response("{}", headers={"Cache-Control": "max-age=60", "Expires": "soon"})

        self.appcache: Any = QuartAppcache(app)
        return app

    def _starlette(self, settings: dict[str, Any]) -> Starlette:
        async def page(request: Request) -> HTMLResponse:
            return HTMLResponse(self.pages[request.url.path])

        # (Typed as a plain Response, it says no more than Quart's view: the
        # worker's non-pages, read from the route map, stay the same.)
        async def api(request: Request) -> StarletteResponse:
            return PlainTextResponse(
                "{}", headers={"Cache-Control": "max-age=60", "Expires": "soon"}
            )

        app = Starlette(
            routes=[
                Route("/", page),
                Route("/offline", page),
                Route("/api", api),
                Mount("/static", StaticFiles(directory=self.root / "static"), name="static"),
            ]
        )
        self.appcache = StarletteAppcache(app, base_dir=self.root, **settings)
        return app

    def declare(self) -> None:
        self.appcache.add_urls("/", "/offline")
        if self.name == "quart":
            self.appcache.add_folder("static", base="/static")
        else:
            self.appcache.add_static("static")

    async def get(self, path: str, **headers: str) -> httpx.Response:
        if self.name == "quart":
            response = await self.app.test_client().get(path, headers=headers)
            body = await response.get_data()
            return httpx.Response(
                response.status_code, headers=list(response.headers.items()), content=body
            )
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return await http.get(path, headers=headers)

    async def request(self, method: str, path: str) -> int:
        if self.name == "quart":
            return int((await self.app.test_client().open(path, method=method)).status_code)
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return (await http.request(method, path)).status_code

    @asynccontextmanager
    async def started(self) -> AsyncIterator[None]:
        async with self.appcache.site(self.app).host.lifespan():
            yield

    def build(self, out: Path) -> Any:
        site = self.appcache.site(self.app)
        from quart_appcache.cli import run_build

        return CliRunner().invoke(
            _command(lambda: run_build(site, str(out), False)), catch_exceptions=False
        )


def _command(work: Any) -> Any:
    import click

    @click.command()
    def command() -> None:
        work()

    return command


@pytest.fixture(params=["quart", "starlette"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    def factory(**settings: Any) -> Adapter:
        adapter = Adapter(request.param, tmp_path / request.param, **settings)
        adapter.declare()
        return adapter

    return factory


async def test_the_same_declarations_list_the_same_urls_and_version(tmp_path: Path) -> None:
    quart = Adapter("quart", tmp_path / "q")
    starlette = Adapter("starlette", tmp_path / "s")
    for adapter in (quart, starlette):
        adapter.declare()
        adapter.appcache.add_excluded_urls("/static/css")
    assert quart.appcache.urls == starlette.appcache.urls == ("/", "/offline", "/static/app.js")
    assert (await quart.appcache.entries()) == (await starlette.appcache.entries())
    assert (await quart.appcache.hash())[0] == (await starlette.appcache.hash())[0]
    assert (await quart.get("/sw.js")).content == (await starlette.get("/sw.js")).content


async def test_artifacts_answer_etag_304_head_gzip_and_405(make: Any) -> None:
    adapter = make()
    await adapter.appcache.finalize()  # (gzip forms are made once, when frozen)
    for path in ARTIFACTS:
        plain = await adapter.get(path, **{"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers, path
        assert plain.status_code == 200, path
        assert plain.headers["cache-control"] == "no-cache", path
        etag = plain.headers["etag"]
        again = await adapter.get(path, **{"If-None-Match": etag, "Accept-Encoding": "identity"})
        assert (again.status_code, again.content) == (304, b""), path
        packed = await adapter.get(path, **{"Accept-Encoding": "gzip"})
        # (A tiny manifest may have no smaller gzip form; the worker and the
        # precache JSON always have one.)
        if path in ("/sw.js", "/precache-manifest.json"):
            assert packed.headers["content-encoding"] == "gzip", path
        if "content-encoding" in packed.headers:
            assert packed.headers["etag"] == etag[:-1] + '-gzip"', path
            assert packed.headers["vary"] == "Accept-Encoding", path
        assert await adapter.request("POST", path) == 405, path
    head_status = await adapter.request("HEAD", "/sw.js")
    assert head_status == 200
    worker = await adapter.get("/sw.js")
    assert worker.headers["service-worker-allowed"] == "/"
    assert worker.headers["content-type"] == "text/javascript; charset=utf-8"


async def test_tracked_routes_must_revalidate_and_others_are_left_alone(make: Any) -> None:
    adapter = make()
    await adapter.appcache.finalize()
    for path in ("/", "/static/app.js"):
        response = await adapter.get(path)
        directives = {d.strip() for d in response.headers["cache-control"].split(",")}
        # (Directives other than freshness, like Quart's 'public' on files, stay.)
        assert (
            {"max-age=0", "must-revalidate"}
            <= directives
            <= {
                "max-age=0",
                "must-revalidate",
                "public",
            }
        ), path
        assert "expires" not in response.headers, path
    api = await adapter.get("/api")
    assert api.headers["cache-control"] == "max-age=60"
    assert api.headers["expires"] == "soon"


async def test_the_kill_switch_answers_410_on_both_manifests(make: Any) -> None:
    adapter = make(sw_unregister=True)
    assert (await adapter.get("/manifest.appcache")).status_code == 410
    assert (await adapter.get("/precache-manifest.json")).status_code == 410
    assert "unregister" in (await adapter.get("/sw.js")).text


async def test_startup_finalizes_and_a_failing_url_stops_it(make: Any) -> None:
    adapter = make()
    async with adapter.started():
        assert adapter.appcache.site(adapter.app).frozen is not None
        assert PAGE.encode() in (await adapter.get("/")).content
    broken = make()
    broken.appcache.add_urls("/nope")
    # (Each framework's own startup error, carrying ours.)
    with pytest.raises(Exception, match=r"Cannot cache '/nope': the app answered 404"):
        async with broken.started():
            pass


async def test_a_build_is_served_at_startup_and_a_changed_view_refuses_it(
    make: Any, tmp_path: Path
) -> None:
    out = tmp_path / "build"
    adapter = make(build_dir=str(out))
    result = await asyncio.to_thread(adapter.build, out)
    assert result.exit_code == 0, result.output
    record = json.loads((out / RECORD).read_text())
    fresh = make(build_dir=str(out))
    async with fresh.started():
        assert (await fresh.appcache.hash()) == (record["version"], record["updated"])
        assert (await fresh.get("/sw.js")).content == (out / "sw.js").read_bytes()
    changed = make(build_dir=str(out))
    changed.pages["/"] = "<h1>home, changed</h1>"
    with pytest.raises(Exception, match=r"the view '/' renders other bytes than the build"):
        async with changed.started():
            pass
