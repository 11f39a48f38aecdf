"""Finalizing at startup, after the app's own startup hooks."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path

import pytest
from quart.testing.app import LifespanError

from quart_appcache import FetchError

from ...conftest import AppFactory, write


async def test_startup_finalizes_by_default_outside_debug(make_app: AppFactory) -> None:
    app, appcache = make_app(debug=False)
    appcache.add_folder("static")
    async with app.test_app() as test_app:
        frozen = await appcache.hash()
        write(Path(app.root_path) / "static" / "app.js", "changed")
        body = await (await test_app.test_client().get("/manifest.appcache")).get_data()
        assert frozen[0].encode() in body
        with pytest.raises(RuntimeError, match="after finalize"):
            appcache.add_urls("/")


async def test_debug_does_not_finalize_and_stays_live(make_app: AppFactory) -> None:
    app, appcache = make_app(debug=True)
    appcache.add_folder("static")
    async with app.test_app() as test_app:
        client = test_app.test_client()
        first = await (await client.get("/manifest.appcache")).get_data()
        write(Path(app.root_path) / "static" / "new.js", "new")
        second = await (await client.get("/manifest.appcache")).get_data()
        assert b"/static/new.js" in second
        assert first != second
        appcache.add_urls("/")  # still open


async def test_appcache_finalize_config_overrides_debug(make_app: AppFactory) -> None:
    app, appcache = make_app(debug=True, APPCACHE_FINALIZE=True)
    appcache.add_urls("/")
    async with app.test_app():
        with pytest.raises(RuntimeError):
            appcache.add_urls("/offline")


async def test_debug_set_after_init_app_is_honoured(make_app: AppFactory) -> None:
    # app.run(debug=True) sets debug after the extension was initialised.
    app, appcache = make_app(debug=False)
    app.debug = True
    async with app.test_app():
        appcache.add_urls("/")  # not finalized


async def test_finalize_runs_after_before_serving_and_while_serving_hooks(
    make_app: AppFactory,
) -> None:
    app, appcache = make_app(debug=False)
    resources: dict[str, str] = {}

    @app.before_serving
    async def open_db() -> None:
        resources["db"] = "rows from the database"

    @app.while_serving
    async def open_cache() -> AsyncGenerator[None, None]:
        resources["cache"] = "warm"
        yield
        resources.clear()

    @app.route("/needs-startup")
    async def needs_startup() -> str:
        return f"{resources['db']} / {resources['cache']}"

    appcache.add_urls("/needs-startup")
    async with app.test_app():
        assert len(await appcache.entries()) == 1
    assert resources == {}


async def test_a_404_url_stops_startup_with_its_name(make_app: AppFactory) -> None:
    app, appcache = make_app(debug=False)
    appcache.add_urls("/", "/missing")
    message = r"Cannot cache '/missing': the app answered 404"
    with pytest.raises(LifespanError, match=message):
        async with app.test_app():
            pass
    with pytest.raises(FetchError, match=message) as info:
        await app.startup()
    assert info.value.url == "/missing"
    assert info.value.status == 404


async def test_the_app_can_start_twice(make_app: AppFactory) -> None:
    app, appcache = make_app(debug=False)
    appcache.add_urls("/")
    async with app.test_app():
        first = await appcache.hash()
    async with app.test_app():
        assert await appcache.hash() == first


async def test_a_catch_all_route_added_later_does_not_shadow_the_manifest(
    make_app: AppFactory,
) -> None:
    app, _appcache = make_app(debug=True)

    @app.route("/<path:name>.appcache")
    async def shadow(name: str) -> str:
        return name

    # Static rules win over converters, so this one does not shadow.
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/manifest.appcache")
        assert (await response.get_data()).startswith(b"CACHE MANIFEST")


async def test_a_route_added_later_on_the_manifest_url_fails_startup(make_app: AppFactory) -> None:
    app, _ = make_app(debug=True)

    @app.route("/manifest.appcache")
    async def mine() -> str:
        return "never reached"

    from quart_appcache import ConfigError

    with pytest.raises(ConfigError, match=r"APPCACHE_URL is '/manifest.appcache'.*'mine'"):
        await app.startup()


async def test_a_host_matching_app_starts_and_serves_the_artifacts(tmp_path: Path) -> None:
    from quart import Quart

    from quart_appcache import Appcache

    app = Quart(__name__, root_path=str(tmp_path), host_matching=True, static_host="example.org")
    app.config["APPCACHE_URL_BASE"] = "http://example.org"

    @app.route("/", host="example.org")
    async def index() -> str:
        return "home"

    appcache = Appcache(app)
    appcache.add_urls("/")
    await app.startup()  # no false route clash
    try:
        assert appcache.site().frozen is not None
        client = app.test_client()
        for host in ("example.org", "other.example"):
            response = await client.get("/manifest.appcache", headers={"Host": host})
            assert response.status_code == 200, host
            assert b"\n/\n" in await response.get_data()
    finally:
        await app.shutdown()
