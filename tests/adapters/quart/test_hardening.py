"""Bad input, faults and load: nothing hangs, nothing wrong is ever served."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from quart.testing.app import LifespanError

from quart_appcache import FileReadError, InvalidURLError, TemplateError, bundle

from ...conftest import AppFactory, parse_manifest, write

REPO = Path(__file__).resolve().parents[3]


async def test_include_hidden_through_the_api(make_app: AppFactory) -> None:
    app, appcache = make_app()
    static = Path(app.root_path) / "static"
    write(static / ".well-known" / "assetlinks.json", "{}")
    write(static / ".DS_Store", "junk")
    appcache.add_folder("static")
    assert not [url for url in appcache.urls if "/." in url]
    _other, other_cache = make_app()
    other_cache.add_folder("static", include_hidden=True)
    assert {"/static/.DS_Store", "/static/.well-known/assetlinks.json"} <= set(other_cache.urls)


def vanish_during_hashing(monkeypatch: pytest.MonkeyPatch, victim: Path) -> None:
    real = bundle.hash_files

    async def deleting(paths, cache=None, **kwargs):  # type: ignore[no-untyped-def]
        victim.unlink()  # listed a moment ago, gone before it is read
        return await real(paths, cache, **kwargs)

    monkeypatch.setattr(bundle, "hash_files", deleting)


async def test_file_deleted_after_listing_is_dropped_in_debug(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app, appcache = make_app(debug=True)
    appcache.add_folder("static")
    vanish_during_hashing(monkeypatch, Path(app.root_path) / "static" / "app.js")
    with caplog.at_level(logging.WARNING, logger="quart_appcache"):
        response = await app.test_client().get("/manifest.appcache")
    assert response.status_code == 200
    sections = parse_manifest((await response.get_data()).decode())
    assert sections["CACHE"] == ["/static/css/app.css"]
    assert "app.js" in caplog.text
    assert "vanished" in caplog.text


async def test_file_deleted_after_listing_is_a_clear_error_when_finalizing(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, appcache = make_app()
    appcache.add_folder("static")
    victim = Path(app.root_path) / "static" / "app.js"
    vanish_during_hashing(monkeypatch, victim)
    with pytest.raises(FileReadError, match=rf"'/static/app.js'.*{re.escape(str(victim))}"):
        await appcache.finalize()


def test_ten_thousand_files_under_an_open_file_limit_of_256(tmp_path: Path) -> None:
    static = tmp_path / "static"
    for index in range(10_000):
        folder = static / f"d{index % 50}"
        if index < 50:
            folder.mkdir(parents=True)
        (folder / f"f{index}.txt").write_bytes(f"file {index}".encode())
    script = textwrap.dedent(
        """
        import asyncio, os, resource, sys
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        from quart import Quart
        from quart_appcache import Appcache

        app = Quart("limits", root_path=sys.argv[1])
        appcache = Appcache(app)
        appcache.add_folder("static")

        async def main():
            peak = 0
            done = False

            async def watch():
                nonlocal peak
                while not done:
                    peak = max(peak, len(os.listdir("/proc/self/fd")))
                    await asyncio.sleep(0.001)

            before = len(os.listdir("/proc/self/fd"))
            watcher = asyncio.create_task(watch())
            await appcache.hash()
            done = True
            await watcher
            print(len(await appcache.entries()), before, peak)

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    entries, before, peak = map(int, done.stdout.split())
    assert entries == 10_000
    assert peak - before <= 16, (before, peak)


def test_a_2_gib_sparse_file_is_hashed_with_bounded_memory(tmp_path: Path) -> None:
    static = tmp_path / "static"
    static.mkdir()
    with (static / "huge.bin").open("wb") as huge:
        huge.truncate(2 * 1024**3)
    write(static / "small.txt", "small")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.rss_probe", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    growth_mib = float(done.stdout.strip())
    assert growth_mib <= 64, growth_mib


async def test_manifest_template_syntax_error_stops_startup_naming_it(
    make_app: AppFactory,
) -> None:
    app, appcache = make_app()
    write(Path(app.root_path) / "templates" / "manifest.appcache", "CACHE MANIFEST\n{% for %}\n")
    appcache.add_urls("/")
    message = r"The template 'manifest.appcache' \(APPCACHE_TEMPLATE\) has a syntax error at line 2"
    with pytest.raises(LifespanError, match=message):
        async with app.test_app():
            pass
    with pytest.raises(TemplateError, match=message):
        await app.startup()


async def test_manifest_template_error_while_rendering_names_it(make_app: AppFactory) -> None:
    app, _appcache = make_app(debug=True)
    write(Path(app.root_path) / "templates" / "manifest.appcache", "{{ 1 // 0 }}")
    response = await app.test_client().get("/manifest.appcache")
    assert response.status_code == 500
    assert (
        "Rendering the template 'manifest.appcache' (APPCACHE_TEMPLATE) failed: ZeroDivisionError"
        in (await response.get_data()).decode()
    )


async def test_500_concurrent_debug_requests_while_files_change(make_app: AppFactory) -> None:
    app, appcache = make_app(debug=True)
    appcache.add_urls("/")
    appcache.add_folder("static")
    static = Path(app.root_path) / "static"
    rng = random.Random(7)
    churning = True

    async def churn() -> None:
        while churning:
            name = static / "churn" / f"f{rng.randrange(20)}.js"
            action = rng.random()
            if action < 0.4:
                write(name, "x" * rng.randrange(1, 5000))
            elif name.exists():
                name.unlink()
            await asyncio.sleep(0)

    churner = asyncio.create_task(churn())
    client = app.test_client()
    responses = []
    for _ in range(10):
        responses += await asyncio.gather(*(client.get("/manifest.appcache") for _ in range(50)))
    churning = False
    await churner
    statuses = [r.status_code for r in responses]
    assert len(statuses) == 500
    assert set(statuses) <= {200, 500}
    for response in responses:
        body = (await response.get_data()).decode()
        if response.status_code == 200:
            cache = parse_manifest(body)["CACHE"]
            assert {"/", "/static/app.js", "/static/css/app.css"} <= set(cache)
            assert all(
                re.fullmatch(r"/static/churn/f\d+\.js", url)
                for url in cache
                if url not in ("/", "/static/app.js", "/static/css/app.css")
            ), cache
            assert body.endswith("NETWORK:\n*\n\n")
        else:
            assert "Traceback" not in body
            assert body.startswith("Cannot")
    assert statuses.count(200) > 0


async def test_only_declared_urls_are_ever_listed(make_app: AppFactory) -> None:
    app, appcache = make_app(APPCACHE_FALLBACK={"/": "/offline"})
    appcache.add_urls("/")
    appcache.add_folder("static")
    declared = set(appcache.urls)
    assert declared == {"/", "/offline", "/static/app.js", "/static/css/app.css"}
    client = app.test_client()
    manifest = parse_manifest((await (await client.get("/manifest.appcache")).get_data()).decode())
    precache = json.loads(await (await client.get("/precache-manifest.json")).get_data())
    script = (await (await client.get("/sw.js")).get_data()).decode()
    in_script = json.loads(re.search(r"const ENTRIES = (.*);", script).group(1))  # type: ignore[union-attr]
    assert set(manifest["CACHE"]) == declared
    # The worker also precaches the extension's own page client, nothing else.
    assert {item["url"] for item in precache} == {*declared, "/appcache.js"}
    assert {item["url"] for item in in_script} == {*declared, "/appcache.js"}
    for url in declared:
        assert url.startswith("/")
        assert not url.startswith("//")


@pytest.mark.parametrize("base", ["//cdn.example/static", "https://cdn.example", "static"])
async def test_a_folder_base_can_never_be_another_origin(make_app: AppFactory, base: str) -> None:
    _app, appcache = make_app()
    with pytest.raises(InvalidURLError, match=re.escape(repr(base))):
        appcache.add_folder("static", base=base)


async def test_os_errors_other_than_vanishing_are_clear_errors_in_debug(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, appcache = make_app(debug=True)
    appcache.add_folder("static")
    from quart_appcache import hashing

    def denied(path: str):  # type: ignore[no-untyped-def]
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(hashing, "_open", denied)
    response = await app.test_client().get("/manifest.appcache")
    assert response.status_code == 500
    body = (await response.get_data()).decode()
    assert "Cannot cache '/static/app.js'" in body
    assert "Permission denied" in body
    assert os.path.join("static", "app.js") in body
