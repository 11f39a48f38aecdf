"""The Starlette/FastAPI adapter's API: settings, declarations, add_static, templates."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from quart import Quart
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import quart_appcache
from quart_appcache.starlette import (
    Appcache,
    ConfigError,
    FinalizedError,
    InvalidURLError,
    NotInitializedError,
    get_appcache,
)

from ...conftest import StarletteFactory, write
from ...starlette_apps import client


def test_errors_are_the_core_classes() -> None:
    assert ConfigError is quart_appcache.ConfigError
    assert FinalizedError is quart_appcache.FinalizedError


def test_app_state_holds_the_extension(make_starlette: StarletteFactory) -> None:
    app, appcache = make_starlette()
    assert app.state.appcache is appcache
    assert get_appcache(app) is appcache
    with pytest.raises(NotInitializedError, match="has no Appcache"):
        get_appcache(Starlette())


def test_init_app_later_and_twice(make_starlette: StarletteFactory) -> None:
    app, appcache = make_starlette(init=False)
    with pytest.raises(NotInitializedError, match="init_app"):
        appcache.add_urls("/")
    appcache.init_app(app)
    appcache.add_urls("/")
    with pytest.raises(ConfigError, match="already has an Appcache"):
        Appcache().init_app(app)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"fallback": "/offline"}, r"Appcache\(fallback=\.\.\.\) is '/offline'"),
        ({"network": "*"}, r"Appcache\(network=\.\.\.\) is '\*'"),
        ({"fetch_timeout": 0}, r"Appcache\(fetch_timeout=\.\.\.\) is 0"),
        ({"url_base": "ftp://x"}, r"Appcache\(url_base=\.\.\.\) is 'ftp://x'"),
        ({"url": None}, r"Appcache\(url=\.\.\.\) is None"),
        ({"sw_url": "/manifest.appcache"}, r"Appcache\(url=\.\.\.\).*must differ"),
        ({"finalize": "yes"}, r"Appcache\(finalize=\.\.\.\) is 'yes'"),
        ({"debug": 1}, r"Appcache\(debug=\.\.\.\) is 1"),
        ({"base_dir": 3}, r"Appcache\(base_dir=\.\.\.\) is 3"),
        ({"template": ""}, r"Appcache\(template=\.\.\.\) is ''"),
        ({"precache_url": "/p?x=1"}, r"Appcache\(precache_url=\.\.\.\).*query"),
        ({"fallback": {"/": "offline"}}, r"Appcache\(fallback=\.\.\.\)"),
    ],
)
def test_bad_settings_name_the_keyword(settings: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Appcache(**settings)


def test_settings_defaults_match_the_quart_adapter() -> None:
    settings = Appcache().settings
    quart_app = Quart(__name__)
    quart_settings = quart_appcache.Appcache(quart_app).site(quart_app).settings
    # The defaults that name a folder differ: the instance folder, or base_dir.
    assert settings.queue_store == "sqlite:///appcache-queue.sqlite3"
    assert quart_settings.queue_store == "sqlite:///" + str(
        Path(quart_app.instance_path) / "appcache-queue.sqlite3"
    )
    assert settings == quart_settings.__class__(
        **{
            **quart_settings.__dict__,
            "build_dir": None,
            "queue_store": settings.queue_store,
            "names": settings.names,
        }
    )


async def test_urls_hash_entries_and_finalize(make_starlette: StarletteFactory) -> None:
    _app, appcache = make_starlette(fallback={"/": "/offline"})
    appcache.add_urls("/")
    appcache.add_static("static")
    assert appcache.urls == ("/", "/static/app.js", "/static/css/app.css", "/offline")
    # No lifespan ran: the view reads request.state.db, which is not there.
    with pytest.raises(quart_appcache.FetchError, match=r"Cannot cache '/'.*AttributeError"):
        await appcache.hash()
    appcache.site().host.state = {"db": {"title": "t"}}
    version, updated = await appcache.hash()
    assert len(version) == 64
    assert updated.endswith("+00:00")
    pairs = await appcache.entries()
    assert [url for url, _ in pairs] == list(appcache.urls)
    await appcache.finalize()
    with pytest.raises(FinalizedError, match=r"add_static\(\) was called after finalize"):
        appcache.add_static("static")
    assert await appcache.hash() == (version, updated)


async def test_same_content_same_version_on_quart_and_starlette(tmp_path: Path) -> None:
    # The version depends on URLs and bytes only, never on the framework.
    write(tmp_path / "static" / "app.js", "same bytes")

    async def page(request: Request) -> PlainTextResponse:
        return PlainTextResponse("page body")

    star = Starlette(routes=[Route("/page", page)])
    star_cache = Appcache(star, base_dir=tmp_path)
    star_cache.add_urls("/page")
    star_cache.add_folder("static")
    quart = Quart(__name__, root_path=str(tmp_path))

    @quart.route("/page")
    async def quart_page() -> str:
        return "page body"

    quart_cache = quart_appcache.Appcache(quart)
    quart_cache.add_urls("/page")
    quart_cache.add_folder("static")
    assert await star_cache.entries() == await quart_cache.entries()
    assert (await star_cache.hash())[0] == (await quart_cache.hash())[0]


def test_add_static_lists_the_mounts_folders_in_lookup_order(tmp_path: Path) -> None:
    first = write(tmp_path / "one" / "a.js", "from one").parent
    write(tmp_path / "one" / "shared.js", "one wins")
    second = write(tmp_path / "two" / "b.js", "from two").parent
    write(tmp_path / "two" / "shared.js", "shadowed")
    static = StaticFiles(directory=first)
    static.all_directories.append(second)  # as `packages=` adds folders after `directory`
    app = Starlette(routes=[Mount("/assets", static, name="assets")])
    appcache = Appcache(app, base_dir=tmp_path)
    appcache.add_static("assets")
    assert appcache.urls == ("/assets/a.js", "/assets/shared.js", "/assets/b.js")
    revisions = appcache.site().bundle.collect_now()
    assert [getattr(e, "path", "") for e in revisions][1] == str(first / "shared.js")


def test_add_static_of_a_nested_mount(tmp_path: Path) -> None:
    write(tmp_path / "files" / "x.css", "x")
    inner = Mount("/static", StaticFiles(directory=tmp_path / "files"), name="static")
    app = Starlette(routes=[Mount("/blog", routes=[inner], name="blog")])
    appcache = Appcache(app, base_dir=tmp_path)
    appcache.add_static("blog:static")
    assert appcache.urls == ("/blog/static/x.css",)


def test_add_static_relative_directory_resolves_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "cwd" / "static" / "here.js", "x")
    monkeypatch.chdir(tmp_path / "cwd")
    app = Starlette(routes=[Mount("/static", StaticFiles(directory="static"), name="static")])
    appcache = Appcache(app, base_dir=tmp_path / "elsewhere")
    appcache.add_static()
    assert appcache.urls == ("/static/here.js",)


def test_add_static_errors_name_the_mount(tmp_path: Path) -> None:
    write(tmp_path / "s" / "x.js", "x")

    async def page(request: Request) -> PlainTextResponse:
        return PlainTextResponse("x")

    app = Starlette(
        routes=[
            Mount("/s", StaticFiles(directory=tmp_path / "s"), name="assets"),
            Mount("/sub", routes=[Route("/", page)], name="sub"),
        ]
    )
    appcache = Appcache(app)
    with pytest.raises(
        ConfigError, match=r"no StaticFiles mounted under the name 'static'.*'assets' at '/s'"
    ):
        appcache.add_static("static")
    with pytest.raises(
        ConfigError, match=r"the mount 'sub' at '/sub' serves Router, not StaticFiles"
    ):
        appcache.add_static("sub")


def test_relative_folders_resolve_against_base_dir(tmp_path: Path) -> None:
    write(tmp_path / "base" / "assets" / "a.css", "a")
    app = Starlette()
    appcache = Appcache(app, base_dir=tmp_path / "base")
    appcache.add_folder("assets", base="/assets")
    appcache.add_excluded_urls("/assets/drafts")
    assert appcache.urls == ("/assets/a.css",)
    with pytest.raises(InvalidURLError, match=r"sw\.js.*Appcache\(sw_url=\.\.\.\)"):
        appcache.add_urls("/sw.js")


def test_a_route_on_an_artifact_url_is_refused_at_init(tmp_path: Path) -> None:
    async def mine(request: Request) -> PlainTextResponse:
        return PlainTextResponse("mine")

    app = Starlette(routes=[Route("/sw.js", mine, name="mine")])
    with pytest.raises(ConfigError, match=r"Appcache\(sw_url=\.\.\.\) is '/sw.js'.*'mine'"):
        Appcache(app)
    # A route with parameters (a single-page app's catch-all) is fine.
    spa = Starlette(routes=[Route("/{path:path}", mine)])
    Appcache(spa)


async def test_template_globals_in_a_template_response(tmp_path: Path) -> None:
    write(
        tmp_path / "templates" / "page.html",
        '<html manifest="{{ appcache_manifest_url() }}">{{ appcache_sw_script() }}</html>',
    )
    templates = Jinja2Templates(directory=tmp_path / "templates")

    async def page(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "page.html")

    app = FastAPI()
    app.add_api_route("/page", page)
    Appcache(app, templates=templates, sw_url="/worker.js")
    async with client(app) as http:
        body = (await http.get("/page")).text
    assert 'manifest="/manifest.appcache"' in body
    assert '<script src="/appcache.js" data-sw="/worker.js" data-scope="/" ' in body
    async with client(app, root_path="/app") as http:
        body = (await http.get("/app/page")).text
        assert (await http.get("/app/appcache.js")).status_code == 200
    assert 'manifest="/app/manifest.appcache"' in body
    assert '<script src="/app/appcache.js" data-sw="/app/worker.js" data-scope="/app/" ' in body


def test_templates_must_be_jinja2_templates() -> None:
    with pytest.raises(ConfigError, match="Jinja2Templates"):
        Appcache(templates="templates")  # type: ignore[arg-type]


async def test_user_templates_win_over_the_packaged_ones(tmp_path: Path) -> None:
    write(tmp_path / "templates" / "manifest.appcache", "CACHE MANIFEST\n# mine {{ hash }}\n")
    templates = Jinja2Templates(directory=tmp_path / "templates")
    app = Starlette()
    appcache = Appcache(app, templates=templates)
    async with client(app) as http:
        text = (await http.get("/manifest.appcache")).text
    # (Jinja drops the trailing newline unless the environment keeps it.)
    assert text == f"CACHE MANIFEST\n# mine {(await appcache.hash())[0]}"


async def test_an_app_nobody_references_is_freed(tmp_path: Path) -> None:
    appcache = Appcache(base_dir=tmp_path)  # module-level, shared by an app factory

    async def serve_once() -> weakref.ref[Starlette]:
        async def page(request: Request) -> PlainTextResponse:
            return PlainTextResponse("page")

        app = Starlette(routes=[Route("/", page)])
        appcache.init_app(app)
        appcache.add_urls("/")
        async with client(app) as http:
            assert (await http.get("/manifest.appcache")).status_code == 200
        return weakref.ref(app)

    ref = await serve_once()
    gc.collect()
    assert ref() is None
    with pytest.raises(NotInitializedError, match="garbage-collected"):
        appcache.add_urls("/")


async def test_installable_with_keywords_and_the_head_global(tmp_path: Path) -> None:
    from ...core.test_webapp import MEMBERS, source_png

    source_png(tmp_path / "icon.png")
    write(tmp_path / "templates" / "page.html", "<head>{{ appcache_head() }}</head>")
    templates = Jinja2Templates(directory=tmp_path / "templates")

    async def page(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "page.html")

    app = Starlette(routes=[Route("/page", page)])
    Appcache(app, templates=templates, base_dir=tmp_path, web_manifest=MEMBERS, icon="icon.png")
    async with client(app) as http:
        manifest = (await http.get("/manifest.webmanifest")).json()
        assert manifest["name"] == MEMBERS["name"]
        assert [icon["sizes"] for icon in manifest["icons"]] == ["192x192", "512x512", "512x512"]
        icon = await http.get("/appcache-icons/icon-192.png")
        assert icon.headers["content-type"] == "image/png"
        head = (await http.get("/page")).text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in head
    assert '<link rel="apple-touch-icon" href="/appcache-icons/apple-touch-icon.png?v=' in head
    assert '<script src="/appcache.js"' in head
    with pytest.raises(ConfigError, match=r"Appcache\(icon=\.\.\.\) is '.*nope.png', which cannot"):
        Appcache(base_dir=tmp_path, icon="nope.png")
    with pytest.raises(ConfigError, match=r"Appcache\(web_manifest=\.\.\.\) has no 'name'"):
        Appcache(web_manifest={"short_name": "x"})


def test_sw_skip_waiting_is_deprecated_for_sw_update() -> None:
    from quart_appcache.errors import ConfigError
    from quart_appcache.starlette import Appcache as Deprecated

    with pytest.warns(
        DeprecationWarning,
        match=r"Appcache\(sw_skip_waiting=...\) is deprecated: set Appcache\(sw_update=...\) = 'immediate'",
    ):
        extension = Deprecated(sw_skip_waiting=True)
    assert extension.settings.sw_update == "immediate"
    with pytest.raises(ConfigError, match=r"disagree"):
        Deprecated(sw_skip_waiting=True, sw_update="waiting")
