"""The ported Flask-Appcache API: declarations, urls, hash(), finalize()."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from quart import Quart

from quart_appcache import (
    Appcache,
    FinalizedError,
    FolderNotFoundError,
    InvalidURLError,
    NotAFolderError,
    NotInitializedError,
)
from quart_appcache.hashing import revision_of

from ...conftest import AppFactory, write


def static(app: Quart) -> Path:
    return Path(app.root_path) / "static"


async def test_app_is_registered_in_extensions(make_app: AppFactory) -> None:
    app, appcache = make_app()
    assert app.extensions["appcache"] is appcache


async def test_init_app_twice_on_one_app_is_refused(make_app: AppFactory) -> None:
    app, appcache = make_app()
    with pytest.raises(ValueError, match="already has an Appcache"):
        appcache.init_app(app)


async def test_config_defaults_are_set_with_setdefault(make_app: AppFactory) -> None:
    app, _ = make_app(APPCACHE_URL="/my.appcache")
    assert app.config["APPCACHE_URL"] == "/my.appcache"
    assert app.config["APPCACHE_TEMPLATE"] == "manifest.appcache"
    assert app.config["APPCACHE_URL_BASE"] == "http://localhost"
    assert app.config["APPCACHE_FALLBACK"] == {}
    assert app.config["APPCACHE_NETWORK"] == ["*"]
    assert app.config["APPCACHE_FETCH_TIMEOUT"] == 30.0


async def test_urls_keep_insertion_order_and_collapse_duplicates(make_app: AppFactory) -> None:
    _app, appcache = make_app()
    appcache.add_urls("/offline", "/")
    appcache.add_folder("static")
    appcache.add_urls("/", "/offline")
    urls = appcache.urls
    assert list(urls) == ["/offline", "/", "/static/app.js", "/static/css/app.css"]
    assert len(urls) == 4
    assert "/static/app.js" in urls
    assert "/nope" not in urls


async def test_hash_is_hex_and_stable_without_changes(make_app: AppFactory) -> None:
    _app, appcache = make_app()
    appcache.add_urls("/")
    appcache.add_folder("static")
    version, updated = await appcache.hash()
    int(version, 16)
    await asyncio.sleep(1.1)
    assert await appcache.hash() == (version, updated)


async def test_content_change_changes_version_and_updated(make_app: AppFactory) -> None:
    app, appcache = make_app()
    appcache.add_folder("static")
    version, updated = await appcache.hash()
    await asyncio.sleep(1.1)  # `updated` has one-second resolution
    write(static(app) / "app.js", "console.log('changed');\n")
    new_version, new_updated = await appcache.hash()
    assert new_version != version
    assert new_updated > updated


async def test_view_change_changes_version(make_app: AppFactory) -> None:
    app, appcache = make_app()
    body = {"text": "one"}

    @app.route("/dynamic")
    async def dynamic() -> str:
        return body["text"]

    appcache.add_urls("/dynamic")
    first, _ = await appcache.hash()
    body["text"] = "two"
    assert (await appcache.hash())[0] != first


async def test_renaming_a_url_changes_version(make_app: AppFactory) -> None:
    app, appcache = make_app()
    appcache.add_folder("static")
    first, _ = await appcache.hash()
    os.rename(static(app) / "app.js", static(app) / "main.js")
    assert (await appcache.hash())[0] != first


async def test_same_content_gives_same_version_across_apps(tmp_path: Path) -> None:
    # Two copies of the tree in different folders: paths on disk never count.
    versions = []
    for name in ("one", "elsewhere/two"):
        root = tmp_path / name
        write(root / "static" / "app.js", "console.log('app');\n")
        write(root / "static" / "css" / "app.css", "body {}\n")
        app = Quart(__name__, root_path=str(root))

        @app.route("/")
        async def index() -> str:
            return "home"

        appcache = Appcache(app)
        appcache.add_urls("/")
        appcache.add_folder("static")
        versions.append(await appcache.hash())
    assert versions[0][0] == versions[1][0]


async def test_version_does_not_depend_on_completion_order(make_app: AppFactory) -> None:
    versions = set()
    for delays in ([0.05, 0.0, 0.02], [0.0, 0.05, 0.01]):
        app, appcache = make_app()
        for index, delay in enumerate(delays):

            async def view(delay: float = delay, index: int = index) -> str:
                await asyncio.sleep(delay)
                return f"view {index}"

            app.add_url_rule(f"/v{index}", f"v{index}", view)
            appcache.add_urls(f"/v{index}")
        versions.add((await appcache.hash())[0])
    assert len(versions) == 1


async def test_each_url_is_rendered_once_with_its_own_body(make_app: AppFactory) -> None:
    # The original's closure fetched the last URL for every entry.
    app, appcache = make_app()
    calls: list[str] = []

    @app.before_request
    async def count() -> None:
        from quart import request

        calls.append(request.path)

    appcache.add_urls("/", "/offline")
    await appcache.hash()
    assert sorted(calls) == ["/", "/offline"]
    revisions = dict(await appcache.entries())
    assert revisions["/"] != revisions["/offline"]


async def test_views_render_concurrently(make_app: AppFactory) -> None:
    app, appcache = make_app()
    for index in range(20):

        async def slow(index: int = index) -> str:
            await asyncio.sleep(0.2)
            return str(index)

        app.add_url_rule(f"/slow/{index}", f"slow{index}", slow)
        appcache.add_urls(f"/slow/{index}")
    started = time.perf_counter()
    await appcache.hash()
    # Sequential would take 4 s; concurrently it is one sleep plus overhead.
    assert time.perf_counter() - started < 1.0


async def test_finalize_freezes_version_and_declarations(make_app: AppFactory) -> None:
    app, appcache = make_app()
    appcache.add_folder("static")
    await appcache.finalize()
    frozen = await appcache.hash()
    write(static(app) / "app.js", "changed")
    assert await appcache.hash() == frozen
    for call in (
        lambda: appcache.add_urls("/"),
        lambda: appcache.add_folder("static"),
        lambda: appcache.add_excluded_urls("/static"),
    ):
        with pytest.raises(RuntimeError, match="after finalize"):
            call()
    with pytest.raises(FinalizedError):
        appcache.add_urls("/")


async def test_finalize_twice_at_once_renders_once(make_app: AppFactory) -> None:
    app, appcache = make_app()
    renders: list[int] = []

    @app.route("/counted")
    async def counted() -> str:
        renders.append(1)
        await asyncio.sleep(0.05)
        return "counted"

    appcache.add_urls("/counted")
    await asyncio.gather(appcache.finalize(), appcache.finalize(), appcache.finalize())
    assert renders == [1]
    first = await appcache.hash()
    await appcache.finalize()
    assert renders == [1]
    assert await appcache.hash() == first


async def test_finalize_during_a_debug_computation_wins(make_app: AppFactory) -> None:
    # A debug computation gated inside a view finishes after finalize(): its
    # late result must not replace what finalize froze.
    app, appcache = make_app(debug=True)
    gate = asyncio.Event()
    first_render = asyncio.Event()
    bodies: list[str] = []

    @app.route("/gated")
    async def gated() -> str:
        bodies.append(f"render {len(bodies) + 1}")
        body = bodies[-1]
        if body == "render 1":
            first_render.set()
            await gate.wait()
        return body

    appcache.add_urls("/gated")
    debug = asyncio.ensure_future(appcache.hash())
    await first_render.wait()
    finalizing = asyncio.ensure_future(appcache.finalize())
    await asyncio.sleep(0)  # finalize() has started
    with pytest.raises(FinalizedError):  # no declaration while it runs
        appcache.add_urls("/offline")
    frozen = await appcache.hash()  # waits for the finalize under way
    await finalizing
    gate.set()
    assert await debug == frozen  # the late computation answers with the frozen state
    assert await appcache.hash() == frozen
    assert await appcache.entries() == [("/gated", revision_of(b"render 2"))]
    assert appcache.urls == ("/gated",)
    manifest = await (await app.test_client().get("/manifest.appcache")).get_data()
    assert f"# version {frozen[0]}".encode() in manifest


async def test_hash_of_an_empty_bundle_is_defined(make_app: AppFactory) -> None:
    _app, appcache = make_app()
    version, _updated = await appcache.hash()
    assert len(version) == 64
    assert await appcache.entries() == []


async def test_relative_folder_resolves_against_root_path(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    write(elsewhere / "static" / "other.js", "other")
    monkeypatch.chdir(elsewhere)
    _app, appcache = make_app()
    appcache.add_folder("static")
    assert "/static/app.js" in appcache.urls
    assert "/static/other.js" not in appcache.urls


async def test_add_folder_with_other_base(make_app: AppFactory) -> None:
    app, appcache = make_app()
    appcache.add_folder(static(app), base="/media/")
    assert list(appcache.urls) == ["/media/app.js", "/media/css/app.css"]


async def test_exclusions_apply_to_urls_added_before(make_app: AppFactory) -> None:
    _app, appcache = make_app()
    appcache.add_urls("/offline")
    appcache.add_folder("static")
    appcache.add_excluded_urls("/static/css", "/offline")
    assert list(appcache.urls) == ["/static/app.js"]
    assert [url for url, _ in await appcache.entries()] == ["/static/app.js"]


async def test_add_urls_of_the_manifest_url_is_refused(make_app: AppFactory) -> None:
    _app, appcache = make_app()
    with pytest.raises(ValueError, match=r"'/manifest.appcache'.*APPCACHE_URL"):
        appcache.add_urls("/manifest.appcache")
    with pytest.raises(ValueError, match="APPCACHE_SW_URL"):
        appcache.add_urls("/sw.js")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("offline", "must start with '/'"),
        ("/a b", "whitespace"),
        ("/a\nb", "whitespace"),
        ("/a\rb", "whitespace"),
        ("/a\tb", "whitespace"),
        ("/a\x00b", "control"),
        ("/page#top", "fragment"),
        ("http://evil.example/x", "another origin"),
        ("//evil.example/x", "another origin"),
        ("/a/../b", "'..'"),
        ("/a/./b", "'..'"),
        ("/a%2e%2e/b/%2E%2E", "'..'"),
        ("/100%", "escape"),
        ("", "empty"),
    ],
)
async def test_bad_urls_are_refused_at_add_urls(
    make_app: AppFactory, url: str, reason: str
) -> None:
    _app, appcache = make_app()
    with pytest.raises(ValueError, match=reason) as info:
        appcache.add_urls(url)
    assert isinstance(info.value, InvalidURLError)
    if url:
        assert repr(url) in str(info.value)
    assert appcache.urls == ()


async def test_non_string_url_is_refused(make_app: AppFactory) -> None:
    _app, appcache = make_app()
    with pytest.raises(ValueError, match="42"):
        appcache.add_urls(42)  # type: ignore[arg-type]


async def test_add_folder_of_missing_path_names_it(make_app: AppFactory) -> None:
    app, appcache = make_app()
    with pytest.raises(FileNotFoundError, match="nope") as info:
        appcache.add_folder("nope")
    assert isinstance(info.value, FolderNotFoundError)
    assert os.path.join(app.root_path, "nope") in str(info.value)


async def test_add_folder_of_a_file_names_it(make_app: AppFactory) -> None:
    _app, appcache = make_app()
    with pytest.raises(NotADirectoryError, match=r"app\.js") as info:
        appcache.add_folder("static/app.js")
    assert isinstance(info.value, NotAFolderError)


async def test_declaring_before_init_app_is_a_clear_error() -> None:
    appcache = Appcache()
    with pytest.raises(NotInitializedError, match="init_app"):
        appcache.add_urls("/")


async def test_non_ascii_url_is_percent_encoded(make_app: AppFactory) -> None:
    app, appcache = make_app()

    @app.route("/café")
    async def cafe() -> str:
        return "café"

    appcache.add_urls("/café", "/search?q=ü")
    assert list(appcache.urls) == ["/caf%C3%A9", "/search?q=%C3%BC"]
