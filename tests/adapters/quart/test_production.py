"""Deploy-time builds at startup, and the live, cheap debug mode."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from quart import Quart
from quart.testing.app import LifespanError

from quart_appcache import Appcache, BuildError, hashing
from quart_appcache.build import RECORD

from ...conftest import AppFactory, parse_manifest, write


def built_app(make_app: AppFactory, tmp_path: Path, **config: object) -> tuple[Quart, Appcache]:
    app, appcache = make_app(APPCACHE_BUILD_DIR=str(tmp_path / "build"), **config)
    appcache.add_urls("/")
    appcache.add_folder("static")
    return app, appcache


async def build(app: Quart) -> None:
    # The CLI runs its own event loop, as `quart appcache build` does.
    result = await asyncio.to_thread(app.test_cli_runner().invoke, args=["appcache", "build"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("check", "rendered"), [("content", ["/"]), ("files", []), ("size", [])])
async def test_startup_serves_the_build_as_it_is(
    make_app: AppFactory, tmp_path: Path, opened: list[str], check: str, rendered: list[str]
) -> None:
    app, _appcache = built_app(make_app, tmp_path)
    await build(app)
    built = {
        name: (tmp_path / "build" / name).read_bytes() for name in ("manifest.appcache", "sw.js")
    }
    record = json.loads((tmp_path / "build" / RECORD).read_text())
    # (re-creates the app's files first)
    fresh, fresh_cache = built_app(make_app, tmp_path, APPCACHE_BUILD_CHECK=check)
    renders: list[str] = []

    @fresh.before_request
    async def count() -> None:
        from quart import request

        renders.append(request.path)

    opened.clear()
    async with fresh.test_app() as test_app:
        client = test_app.test_client()
        assert (
            await (await client.get("/manifest.appcache")).get_data() == built["manifest.appcache"]
        )
        assert await (await client.get("/sw.js")).get_data() == built["sw.js"]
        assert await fresh_cache.hash() == (record["version"], record["updated"])
    # "content" hashes the files and renders the views against the build;
    # "files" hashes the files only; "size" reads nothing.
    assert sorted(opened) == ([] if check == "size" else ["app.css", "app.js"])
    assert renders == [*rendered, "/manifest.appcache", "/sw.js"]


async def test_a_same_size_edit_after_the_build_is_refused(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app, _ = built_app(make_app, tmp_path)
    await build(app)
    script = Path(app.root_path) / "static" / "app.js"
    stale, _ = built_app(make_app, tmp_path)  # (re-creates the app's files first)
    script.write_text(script.read_text().replace("app", "APP"))  # same size, other bytes
    with pytest.raises(BuildError, match=r"stale: the content of '/static/app.js' changed"):
        await stale.startup()
    # APPCACHE_BUILD_CHECK = "size" trusts sizes, for trees too big to hash at every start.
    cheap, cheap_cache = built_app(make_app, tmp_path, APPCACHE_BUILD_CHECK="size")
    script.write_text(script.read_text().replace("app", "APP"))
    async with cheap.test_app():
        record = json.loads((tmp_path / "build" / RECORD).read_text())
        assert (await cheap_cache.hash())[0] == record["version"]


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"APPCACHE_NETWORK": ["/api/"]}, "APPCACHE_NETWORK"),
        ({"APPCACHE_FALLBACK": {"/": "/offline"}}, "APPCACHE_FALLBACK"),
        ({"APPCACHE_SW_UPDATE": "waiting"}, "APPCACHE_SW_UPDATE"),
        ({"template": "sw.js"}, "APPCACHE_SW_TEMPLATE"),
    ],
)
async def test_a_build_made_under_other_settings_is_refused(
    make_app: AppFactory, tmp_path: Path, change: dict[str, object], setting: str
) -> None:
    app, _ = built_app(make_app, tmp_path)
    await build(app)
    config = {k: v for k, v in change.items() if k.startswith("APPCACHE_")}
    changed, _ = built_app(make_app, tmp_path, **config)
    if "template" in change:  # the app's own worker template now wins over the packaged one
        write(Path(changed.root_path) / "templates" / "sw.js", "// mine {{ version }}\n")
    with pytest.raises(
        BuildError, match=rf"stale: it was made with {setting} = .*but the app now has"
    ):
        await changed.startup()


async def test_build_check_setting_is_checked(make_app: AppFactory) -> None:
    from quart_appcache import ConfigError

    with pytest.raises(
        ConfigError, match=r"APPCACHE_BUILD_CHECK is 'fast'; give 'content', 'files' or 'size'"
    ):
        make_app(APPCACHE_BUILD_CHECK="fast")


async def test_debug_ignores_builds(make_app: AppFactory, tmp_path: Path) -> None:
    app, _ = built_app(make_app, tmp_path)
    await build(app)
    built = (tmp_path / "build" / "manifest.appcache").read_bytes()
    write(Path(app.root_path) / "static" / "new.js", "new")
    live, _ = built_app(make_app, tmp_path, debug=True)
    async with live.test_app() as test_app:
        body = await (await test_app.test_client().get("/manifest.appcache")).get_data()
    assert body != built
    assert b"/static/new.js" in body


async def test_without_a_build_startup_computes(make_app: AppFactory, tmp_path: Path) -> None:
    app, appcache = built_app(make_app, tmp_path)
    async with app.test_app():
        assert appcache.site().frozen is not None
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("add", r"new since the build: '/static/added.js'"),
        ("remove", r"gone since the build: '/static/app.js'"),
        ("resize", r"the content of '/static/app.js' changed since the build"),
        ("resize-size", r"changed size since the build: '/static/app.js'"),
    ],
)
async def test_stale_build_is_refused_at_startup(
    make_app: AppFactory, tmp_path: Path, change: str, message: str
) -> None:
    app, _ = built_app(make_app, tmp_path)
    await build(app)
    check = "size" if change.endswith("-size") else "content"
    # (re-creates the app's files first)
    stale, _ = built_app(make_app, tmp_path, APPCACHE_BUILD_CHECK=check)
    static = Path(app.root_path) / "static"
    if change == "add":
        write(static / "added.js", "x")
    elif change == "remove":
        (static / "app.js").unlink()
    else:
        write(static / "app.js", "a much longer script than before")
    with pytest.raises(LifespanError, match=message):
        async with stale.test_app():
            pass
    with pytest.raises(BuildError, match=r"is stale.*Run `quart appcache build` again"):
        await stale.startup()


async def test_unusable_build_record_is_refused(make_app: AppFactory, tmp_path: Path) -> None:
    app, _ = built_app(make_app, tmp_path)
    await build(app)
    (tmp_path / "build" / RECORD).write_text("{not json")
    broken, _ = built_app(make_app, tmp_path)
    with pytest.raises(BuildError, match="is unusable"):
        await broken.startup()


async def test_build_missing_an_artifact_is_refused(make_app: AppFactory, tmp_path: Path) -> None:
    app, _ = built_app(make_app, tmp_path)
    await build(app)
    (tmp_path / "build" / "sw.js").unlink()
    broken, _ = built_app(make_app, tmp_path)
    with pytest.raises(BuildError, match=r"sw\.js"):
        await broken.startup()


# -- debug mode: live and cheap -------------------------------------------------


async def test_debug_sees_created_changed_and_deleted_files(make_app: AppFactory) -> None:
    app, appcache = make_app(debug=True)
    appcache.add_folder("static")
    client = app.test_client()
    static = Path(app.root_path) / "static"

    async def cached() -> list[str]:
        text = (await (await client.get("/manifest.appcache")).get_data()).decode()
        return parse_manifest(text)["CACHE"]

    assert await cached() == ["/static/app.js", "/static/css/app.css"]
    write(static / "css" / "new.css", "new")
    assert await cached() == ["/static/app.js", "/static/css/app.css", "/static/css/new.css"]
    before = dict(await appcache.entries())
    write(static / "app.js", "changed")
    after = dict(await appcache.entries())
    assert after["/static/app.js"] != before["/static/app.js"]
    assert after["/static/css/app.css"] == before["/static/css/app.css"]
    (static / "css" / "app.css").unlink()
    assert await cached() == ["/static/app.js", "/static/css/new.css"]


async def test_debug_does_not_read_unchanged_files_again(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, opened: list[str]
) -> None:
    monkeypatch.setattr(hashing, "RACY_NS", 100_000_000)
    app, appcache = make_app(debug=True)
    appcache.add_folder("static")
    await asyncio.sleep(0.2)  # every file is now older than the (shortened) racy window
    client = app.test_client()
    await client.get("/manifest.appcache")
    assert sorted(opened) == ["app.css", "app.js"]
    opened.clear()
    await client.get("/manifest.appcache")
    await client.get("/manifest.appcache")
    assert opened == []
    write(Path(app.root_path) / "static" / "app.js", "changed")
    await client.get("/manifest.appcache")
    assert opened == ["app.js"]


async def test_concurrent_debug_requests_share_one_computation(make_app: AppFactory) -> None:
    app, appcache = make_app(debug=True)
    renders: list[int] = []

    @app.route("/counted")
    async def counted() -> str:
        renders.append(1)
        await asyncio.sleep(0.05)
        return "counted"

    appcache.add_urls("/counted")
    appcache.add_folder("static")
    client = app.test_client()
    responses = await asyncio.gather(*(client.get("/manifest.appcache") for _ in range(50)))
    assert {r.status_code for r in responses} == {200}
    assert len({await r.get_data() for r in responses}) == 1
    assert len(renders) == 1


async def test_finalize_by_hand_before_startup_is_kept(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app, _ = built_app(make_app, tmp_path)
    await build(app)
    fresh, fresh_cache = built_app(make_app, tmp_path)
    write(Path(fresh.root_path) / "static" / "added.js", "x")  # the build is now stale
    await fresh_cache.finalize()
    async with fresh.test_app():  # no stale-build error: the app was finalized by hand
        assert "/static/added.js" in fresh_cache.urls


async def test_debug_sees_a_changed_view_when_no_file_changed(make_app: AppFactory) -> None:
    app, appcache = make_app(debug=True)
    text = {"body": "<h1>one</h1>"}

    @app.route("/page")
    async def page() -> str:
        return text["body"]

    appcache.add_urls("/page")
    appcache.add_folder("static")
    first = await appcache.hash()
    assert await appcache.hash() == first  # nothing changed: the same version and time
    text["body"] = "<h1>two</h1>"
    second = await appcache.hash()
    assert second[0] != first[0]
    text["body"] = "<h1>one</h1>"
    assert (await appcache.hash())[0] == first[0]
