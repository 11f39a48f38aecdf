"""The Starlette adapter's middleware: artifacts, cache headers, startup, URL prefixes."""

from __future__ import annotations

import asyncio
import inspect
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse
from starlette.applications import Starlette
from starlette.routing import Route

from quart_appcache.starlette import Appcache, ConfigError, FetchError

from ...conftest import StarletteFactory, parse_manifest, write
from ...starlette_apps import client, started


async def test_artifacts_answer_get_head_304_and_refuse_post(
    make_starlette: StarletteFactory,
) -> None:
    app, appcache = make_starlette(fallback={"/": "/offline"})
    appcache.add_static("static")
    async with client(app) as http:
        manifest = await http.get("/manifest.appcache")
        assert manifest.status_code == 200
        assert manifest.headers["content-type"] == "text/cache-manifest; charset=utf-8"
        assert manifest.headers["cache-control"] == "no-cache"
        sections = parse_manifest(manifest.text)
        assert sections["CACHE"] == ["/static/app.js", "/static/css/app.css", "/offline"]
        assert sections["FALLBACK"] == ["/ /offline"]
        head = await http.head("/manifest.appcache")
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == str(len(manifest.content))
        assert head.headers["etag"] == manifest.headers["etag"]
        again = await http.get(
            "/manifest.appcache", headers={"If-None-Match": manifest.headers["etag"]}
        )
        assert again.status_code == 304
        assert again.content == b""
        weak = await http.get(
            "/manifest.appcache", headers={"If-None-Match": "W/" + manifest.headers["etag"]}
        )
        assert weak.status_code == 304
        post = await http.post("/manifest.appcache")
        assert post.status_code == 405
        assert post.headers["allow"] == "GET, HEAD"
        worker = await http.get("/sw.js")
        assert worker.headers["service-worker-allowed"] == "/"
        assert worker.headers["content-type"] == "text/javascript; charset=utf-8"
        precache = (await http.get("/precache-manifest.json")).json()
        assert precache[:-1] == [
            {"url": url, "revision": revision} for url, revision in await appcache.entries()
        ]
        assert precache[-1]["url"] == "/appcache.js"
        client_script = await http.get("/appcache.js")
        assert client_script.headers["content-type"] == "text/javascript; charset=utf-8"


async def test_disabled_artifacts_are_not_served(make_starlette: StarletteFactory) -> None:
    app, _ = make_starlette(sw_url=None, precache_url=None)
    async with client(app) as http:
        assert (await http.get("/sw.js")).status_code == 404
        assert (await http.get("/precache-manifest.json")).status_code == 404
        assert (await http.get("/manifest.appcache")).status_code == 200


async def test_without_a_lifespan_every_request_computes(make_starlette: StarletteFactory) -> None:
    app, appcache = make_starlette()
    appcache.add_static("static")
    static = Path(appcache.site().host.root_path) / "static"
    async with client(app) as http:
        first = (await http.get("/manifest.appcache")).text
        write(static / "new.js", "new")
        second = (await http.get("/manifest.appcache")).text
    assert "/static/new.js" not in first
    assert "/static/new.js" in second


async def test_a_failing_view_answers_500_and_logs(
    make_starlette: StarletteFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app, appcache = make_starlette(debug=True)
    appcache.add_urls("/missing")
    async with client(app) as http:
        response = await http.get("/manifest.appcache")
    assert response.status_code == 500
    assert "Cannot cache '/missing': the app answered 404" in response.text
    assert "Cannot cache '/missing'" in caplog.text
    production, cache = make_starlette(debug=False)
    cache.add_urls("/missing")
    async with client(production) as http:
        hidden = await http.get("/manifest.appcache")
    assert hidden.status_code == 500
    assert hidden.text == "The offline bundle is unavailable."


async def test_startup_finalizes_after_the_lifespan_with_its_state(
    make_starlette: StarletteFactory,
) -> None:
    events: list[str] = []
    app, appcache = make_starlette(events=events)
    appcache.add_urls("/")
    appcache.add_static("static")
    static = Path(appcache.site().host.root_path) / "static"
    async with started(app) as http:
        assert appcache.site().frozen is not None
        version = (await appcache.hash())[0]
        write(static / "app.js", "changed after startup")
        body = (await http.get("/manifest.appcache")).text
        assert f"# version {version}\n" in body
        assert (await http.get("/")).text == "<h1>home from the database</h1>"
    assert events == ["startup", "shutdown"]


async def test_debug_stays_live_after_startup(make_starlette: StarletteFactory) -> None:
    app, appcache = make_starlette(debug=True)
    appcache.add_static("static")
    static = Path(appcache.site().host.root_path) / "static"
    async with started(app) as http:
        assert appcache.site().frozen is None
        write(static / "new.js", "new")
        assert "/static/new.js" in (await http.get("/manifest.appcache")).text
        appcache.add_urls("/")  # still open


async def test_app_debug_is_read_at_startup(make_starlette: StarletteFactory) -> None:
    app, appcache = make_starlette()
    app.debug = True  # set after Appcache(app), as a settings object might
    async with started(app):
        assert appcache.site().frozen is None


async def test_a_failing_url_fails_startup_and_shuts_the_lifespan_down(
    make_starlette: StarletteFactory,
) -> None:
    events: list[str] = []
    app, appcache = make_starlette(events=events)
    appcache.add_urls("/", "/nope")
    with pytest.raises(Exception, match=r"Cannot cache '/nope': the app answered 404"):
        async with started(app):
            pass
    assert events == ["startup", "shutdown"]


async def test_a_route_added_after_init_on_an_artifact_url_fails_startup(
    make_starlette: StarletteFactory,
) -> None:
    app, _ = make_starlette()

    async def mine(request: Request) -> PlainTextResponse:
        return PlainTextResponse("mine")

    app.router.routes.append(Route("/manifest.appcache", mine, name="mine"))
    with pytest.raises(Exception, match=r"Appcache\(url=\.\.\.\) is '/manifest.appcache'.*'mine'"):
        async with started(app):
            pass


async def test_fastapi_startup_handlers_and_routers_included_later_run_first(
    tmp_path: Path,
) -> None:
    resources: dict[str, str] = {}

    @asynccontextmanager
    async def router_lifespan(app: Any) -> AsyncIterator[dict[str, str]]:
        yield {"cache": "warm from the router's lifespan"}

    app = FastAPI()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # on_event is deprecated, still used

        @app.on_event("startup")
        async def open_db() -> None:
            resources["db"] = "rows"

    appcache = Appcache(app, base_dir=tmp_path)  # before the router is included
    router = APIRouter(lifespan=router_lifespan)

    @router.get("/needs-startup", response_class=PlainTextResponse)
    async def needs_startup(request: Request) -> str:
        return f"{resources['db']} / {request.state.cache}"

    app.include_router(router)
    appcache.add_urls("/needs-startup")
    async with started(app):
        frozen = appcache.site().frozen
        assert frozen is not None
        assert frozen.snapshot.urls == ["/needs-startup"]


async def test_tracked_answers_get_cache_headers_others_keep_theirs(tmp_path: Path) -> None:
    write(tmp_path / "static" / "app.js", "app")
    write(tmp_path / "static" / ".hidden", "hidden")
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    async def api(request: Request) -> PlainTextResponse:
        return PlainTextResponse(
            "api", headers={"Cache-Control": "max-age=60", "Expires": "Thu, 01 Jan 2099"}
        )

    async def search(request: Request) -> PlainTextResponse:
        return PlainTextResponse("results", headers={"Cache-Control": "public, max-age=600"})

    app = Starlette(
        routes=[
            Route("/api/items", api),
            Route("/search", search),
            Mount("/", StaticFiles(directory=tmp_path / "static"), name="root"),
        ]
    )
    appcache = Appcache(app, base_dir=tmp_path)
    appcache.add_static("root")  # a folder at "/": its files are tracked, the API is not
    appcache.add_urls("/search?q=ü")
    async with client(app) as http:
        js = await http.get("/app.js")
        assert js.headers["cache-control"] == "max-age=0, must-revalidate"
        not_modified = await http.get("/app.js", headers={"If-None-Match": js.headers["etag"]})
        assert not_modified.status_code == 304
        assert not_modified.headers["cache-control"] == "max-age=0, must-revalidate"
        api_answer = await http.get("/api/items")
        assert api_answer.headers["cache-control"] == "max-age=60"
        assert api_answer.headers["expires"] == "Thu, 01 Jan 2099"
        hidden = await http.get("/.hidden")
        assert "must-revalidate" not in hidden.headers.get("cache-control", "")
        # The browser sends the query encoded; the declaration was ü.
        found = await http.get("/search?q=%C3%BC")
        assert found.headers["cache-control"] == "public, max-age=0, must-revalidate"
        other = await http.get("/search?q=x")
        assert other.headers["cache-control"] == "public, max-age=600"


async def test_an_app_under_a_url_prefix_lists_everything_under_it(
    make_starlette: StarletteFactory,
) -> None:
    app, appcache = make_starlette(fallback={"/": "/offline"}, network=["/api/"])
    appcache.add_urls("/")
    appcache.add_static("static")
    async with started(app, root_path="/app") as http:
        # hypercorn --root-path /app: the client asks for /app/... directly.
        text = (await http.get("/app/manifest.appcache")).text
        sections = parse_manifest(text)
        assert sections["CACHE"] == [
            "/app/",
            "/app/static/app.js",
            "/app/static/css/app.css",
            "/app/offline",
        ]
        assert sections["FALLBACK"] == ["/app/ /app/offline"]
        assert sections["NETWORK"] == ["/app/api/"]
        precache = (await http.get("/app/precache-manifest.json")).json()
        assert [item["url"] for item in precache] == [*sections["CACHE"], "/app/appcache.js"]
        worker = await http.get("/app/sw.js")
        assert worker.headers["service-worker-allowed"] == "/app/"
        assert '"/app/static/app.js"' in worker.text
        static = await http.get("/app/static/app.js")
        assert static.headers["cache-control"] == "max-age=0, must-revalidate"
        # The version does not depend on the prefix.
        version = (await appcache.hash())[0]
        assert f"# version {version}\n" in text
        root_manifest = appcache.site().frozen
        assert root_manifest is not None
        assert b"/app/" not in root_manifest.artifacts["manifest"].body
    # (uvicorn --root-path /app behind a proxy that strips the prefix hands
    # the app the same scope: the root path prepended to the path once.)


async def test_renders_see_the_lifespan_state_only_once_it_ran(
    make_starlette: StarletteFactory,
) -> None:
    app, appcache = make_starlette()
    appcache.add_urls("/")
    async with started(app):
        assert appcache.site().frozen is not None  # "/" read request.state.db
    _other, cache = make_starlette()
    cache.add_urls("/")
    with pytest.raises(FetchError, match=r"Cannot cache '/': the view raised AttributeError"):
        await cache.finalize()


def test_settings_are_the_lower_case_config_keys() -> None:
    from quart_appcache.settings import DEFAULTS

    keywords = set(inspect.signature(Appcache).parameters)
    assert {key.removeprefix("APPCACHE_").lower() for key in DEFAULTS} <= keywords
    with pytest.raises(ConfigError, match=r"Appcache\(network=\.\.\.\)"):
        Appcache(network=["no-slash"])


async def test_a_build_is_served_and_refused_when_stale_as_on_quart(
    make_starlette: StarletteFactory, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from quart_appcache.build import FILES
    from quart_appcache.cli import run_build

    app, appcache = make_starlette(build_dir="build")
    appcache.add_urls("/")
    appcache.add_static("static")
    with CliRunner().isolation():  # the CLI runs its own event loop, in a thread here
        await asyncio.to_thread(run_build, appcache.site(), None, False)
    build = Path(appcache.site().host.root_path) / "build"
    async with started(app) as http:
        assert (await http.get("/sw.js")).content == (build / FILES["sw"]).read_bytes()
    # Another NETWORK setting: the build no longer describes the app.
    other, other_cache = make_starlette(build_dir="build", network=["/api/"])
    other_cache.add_urls("/")
    other_cache.add_static("static")
    with pytest.raises(Exception, match=r"made with Appcache\(network=\.\.\.\) = \[\"\*\"\]"):
        async with started(other):
            pass


async def test_kill_switch_runtime_rules_and_verify_as_keywords(
    make_starlette: StarletteFactory,
) -> None:
    app, appcache = make_starlette(
        sw_unregister=True,
        runtime=[{"match": "/api/", "strategy": "stale-while-revalidate", "name": "api"}],
    )
    appcache.add_urls("/offline")
    async with client(app) as http:
        assert (await http.get("/manifest.appcache")).status_code == 410
        assert (await http.get("/precache-manifest.json")).status_code == 410
        worker = (await http.get("/sw.js")).text
        assert "self.registration.unregister()" in worker  # the kill switch's worker
    live, live_cache = make_starlette(
        runtime=[{"match": "/api/", "strategy": "stale-while-revalidate", "name": "api"}],
        sw_verify="all",
        sw_ignored_params=["ref"],
    )
    live_cache.add_urls("/offline")
    async with client(live) as http:
        text = (await http.get("/sw.js")).text
    assert '"match": "/api/", "strategy": "stale-while-revalidate"' in text
    assert "const UNVERIFIED = new Set([]);" in text
    assert 'const IGNORED_PARAMS = ["^ref$"]' in text
    with pytest.raises(ConfigError, match=r"Appcache\(runtime=\.\.\.\)\[0\]\['strategy'\]"):
        make_starlette(runtime=[{"match": "/api/", "strategy": "sometimes"}])
