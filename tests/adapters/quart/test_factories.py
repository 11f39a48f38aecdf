"""One module-level Appcache serving several apps (app factories, test suites)."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
from quart import Quart

from quart_appcache import Appcache, get_appcache

from ...conftest import write

appcache = Appcache()


def create_app(root: Path, body: str, *, debug: bool = False, fallback: str = "/offline") -> Quart:
    write(root / "static" / "app.js", body)
    app = Quart(__name__, root_path=str(root))
    app.debug = debug
    app.config["APPCACHE_FALLBACK"] = {"/": fallback}

    @app.route("/")
    async def index() -> str:
        return body

    @app.route("/offline")
    @app.route("/other-offline")
    async def offline() -> str:
        return "offline"

    appcache.init_app(app)
    appcache.add_urls("/")
    appcache.add_folder("static")
    return app


async def test_factory_runs_twice_and_apps_stay_apart(tmp_path: Path) -> None:
    first = create_app(tmp_path / "one", "one")
    second = create_app(tmp_path / "two", "two", fallback="/other-offline")
    async with first.app_context():
        assert list(appcache.urls) == ["/", "/static/app.js", "/offline"]
        first_version = await appcache.hash()
    async with second.app_context():
        assert list(appcache.urls) == ["/", "/static/app.js", "/other-offline"]
        second_version = await appcache.hash()
    assert first_version[0] != second_version[0]


async def test_finalizing_one_app_leaves_the_other_open(tmp_path: Path) -> None:
    first = create_app(tmp_path / "one", "one")
    second = create_app(tmp_path / "two", "two", debug=True)
    async with first.test_app():
        async with first.app_context():
            with pytest.raises(RuntimeError):
                appcache.add_urls("/offline")
        async with second.app_context():
            appcache.add_urls("/offline")  # still open
            assert "/offline" in appcache.urls


async def test_each_app_serves_its_own_manifest(tmp_path: Path) -> None:
    first = create_app(tmp_path / "one", "one")
    second = create_app(tmp_path / "two", "two")
    one = await (await first.test_client().get("/manifest.appcache")).get_data()
    two = await (await second.test_client().get("/manifest.appcache")).get_data()
    assert one != two
    async with first.app_context():
        assert (await appcache.hash())[0].encode() in one


async def test_config_is_read_per_app(tmp_path: Path) -> None:
    first = create_app(tmp_path / "one", "one")
    app = Quart(__name__, root_path=str(tmp_path))
    app.config["APPCACHE_URL"] = "/other.appcache"
    appcache.init_app(app)
    assert (await first.test_client().get("/manifest.appcache")).status_code == 200
    assert (await app.test_client().get("/other.appcache")).status_code == 200
    assert (await app.test_client().get("/manifest.appcache")).status_code == 404


async def test_get_appcache_is_the_typed_accessor(tmp_path: Path) -> None:
    app = create_app(tmp_path / "one", "one")
    assert get_appcache(app) is appcache
    async with app.app_context():
        assert get_appcache() is appcache
    bare = Quart(__name__)
    with pytest.raises(RuntimeError, match="has no Appcache"):
        get_appcache(bare)


async def test_an_app_nobody_references_is_freed(tmp_path: Path) -> None:
    def serve_once(root: Path) -> weakref.ref[Quart]:
        app = create_app(root, "gone")
        return weakref.ref(app)

    ref = serve_once(tmp_path / "one")
    async with create_app(tmp_path / "two", "kept").app_context():
        await appcache.hash()  # the module-level Appcache lives on and is used
    gc.collect()
    assert ref() is None


async def test_a_used_app_is_freed_too(tmp_path: Path) -> None:
    app = create_app(tmp_path / "one", "used")
    async with app.test_app() as test_app:
        assert (await test_app.test_client().get("/manifest.appcache")).status_code == 200
    ref = weakref.ref(app)
    del app, test_app
    gc.collect()
    assert ref() is None
