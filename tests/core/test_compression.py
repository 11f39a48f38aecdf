"""Compressed artifacts: gzip once at finalize or build time, an ETag per encoding, 304s."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from quart_appcache.build import RECORD
from quart_appcache.serving import accepts_gzip

from ..conftest import AppFactory
from ..starlette_apps import client, started

URLS = ["/manifest.appcache", "/precache-manifest.json", "/sw.js", "/appcache.js"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("*", True),
        ("*;q=0", False),
        ("*, gzip;q=0", False),
        ("x-gzip", True),
    ],
)
def test_accept_encoding(header: str | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected


async def test_finalized_artifacts_are_served_gzipped_when_accepted(make_app: AppFactory) -> None:
    app, appcache = make_app()
    appcache.add_folder("static")
    appcache.add_urls("/")
    async with app.test_app() as test_app:
        http = test_app.test_client()
        for url in URLS:
            plain = await http.get(url)
            packed = await http.get(url, headers={"Accept-Encoding": "gzip, br"})
            body = await plain.get_data()
            assert "Content-Encoding" not in plain.headers, url
            assert plain.headers["Vary"] == "Accept-Encoding", url
            assert packed.headers["Content-Encoding"] == "gzip", url
            assert packed.headers["Vary"] == "Accept-Encoding", url
            zipped = await packed.get_data()
            assert gzip.decompress(zipped) == body, url
            assert len(zipped) < len(body), url
            assert packed.headers["Content-Length"] == str(len(zipped)), url
            # One ETag per encoding; each revalidates its own form.
            assert packed.headers["ETag"] == plain.headers["ETag"][:-1] + '-gzip"', url
            again = await http.get(
                url, headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}
            )
            assert again.status_code == 304, url
            assert "Content-Encoding" not in again.headers
            plain_again = await http.get(url, headers={"If-None-Match": plain.headers["ETag"]})
            assert plain_again.status_code == 304, url
            crossed = await http.get(url, headers={"If-None-Match": packed.headers["ETag"]})
            assert crossed.status_code == 200, url  # the gzip ETag is not the plain form's


async def test_debug_artifacts_are_not_compressed(make_app: AppFactory) -> None:
    app, appcache = make_app(debug=True)
    appcache.add_urls("/")
    response = await app.test_client().get("/sw.js", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in response.headers


async def test_a_build_carries_its_gzip_forms(make_app: AppFactory, tmp_path: Path) -> None:
    import asyncio

    app, appcache = make_app(APPCACHE_BUILD_DIR=str(tmp_path / "build"))
    appcache.add_folder("static")
    result = await asyncio.to_thread(app.test_cli_runner().invoke, args=["appcache", "build"])
    assert result.exit_code == 0, result.output
    build = tmp_path / "build"
    record = json.loads((build / RECORD).read_text())
    # (A gzip form is kept only when it is smaller: a tiny manifest may have none.)
    compressed = {file.removesuffix(".gz") for file in record["files"] if file.endswith(".gz")}
    assert {"precache-manifest.json", "sw.js", "own/appcache.js"} <= compressed
    for file in compressed:
        assert gzip.decompress((build / (file + ".gz")).read_bytes()) == (build / file).read_bytes()
    fresh, fresh_cache = make_app(APPCACHE_BUILD_DIR=str(build))
    fresh_cache.add_folder("static")
    async with fresh.test_app() as test_app:
        packed = await test_app.test_client().get("/sw.js", headers={"Accept-Encoding": "gzip"})
        assert await packed.get_data() == (build / "sw.js.gz").read_bytes()


async def test_starlette_serves_gzip_too(make_starlette) -> None:  # type: ignore[no-untyped-def]
    app, appcache = make_starlette()
    appcache.add_static("static")
    async with started(app) as http:
        packed = await http.get("/sw.js", headers={"Accept-Encoding": "gzip"})
        assert packed.headers["content-encoding"] == "gzip"
        assert packed.headers["vary"] == "Accept-Encoding"
        assert packed.headers["etag"].endswith('-gzip"')
        again = await http.get(
            "/sw.js", headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["etag"]}
        )
        assert again.status_code == 304
    live, live_cache = make_starlette()
    live_cache.add_static("static")
    async with client(live) as http:  # no lifespan: computed per request, not compressed
        assert "content-encoding" not in (await http.get("/sw.js")).headers


async def test_two_versions_within_a_second_get_later_updated(make_app: AppFactory) -> None:
    app, appcache = make_app(debug=True)
    appcache.add_folder("static")
    static = Path(app.root_path) / "static"
    seen = []
    for text in ("one", "two", "three"):
        (static / "app.js").write_text(text)
        seen.append(await appcache.hash())
    versions = [version for version, _ in seen]
    updated = [stamp for _, stamp in seen]
    assert len(set(versions)) == 3
    assert updated == sorted(updated)
    assert len(set(updated)) == 3
    assert all("." in stamp for stamp in updated)  # microseconds, as the original's isoformat
