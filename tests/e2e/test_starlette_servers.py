"""The FastAPI example under uvicorn and hypercorn with two workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from quart_appcache.build import FILES

from ..conftest import parse_manifest, write
from .servers import BROKEN_FASTAPI_APP, command, copy_example, failed_start, free_port, serve
from .test_servers import URLS, fetch_all

pytestmark = pytest.mark.server

KINDS = ["hypercorn", "uvicorn"]
MODULE = "fastapi_app:app"


def build_example(root: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "quart_appcache.starlette", "build", MODULE, "-o", "build"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return root / "build"


@pytest.mark.parametrize("kind", KINDS)
async def test_two_workers_serve_identical_bytes_and_headers(kind: str, tmp_path: Path) -> None:
    root = copy_example(tmp_path / "example")
    with serve(root, kind=kind, module=MODULE, workers=2) as server:
        for path in URLS.values():
            responses = await fetch_all(server.url, path)
            assert {r.status_code for r in responses} == {200}, path
            assert len({r.content for r in responses}) == 1, path
            assert len({r.headers["etag"] for r in responses}) == 1, path
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            manifest = await client.get("/manifest.appcache")
            head = await client.head("/sw.js")
            assert head.status_code == 200
            assert head.content == b""
            assert head.headers["service-worker-allowed"] == "/"
            again = await client.get(
                "/manifest.appcache", headers={"If-None-Match": manifest.headers["etag"]}
            )
            assert again.status_code == 304
            css = await client.get("/static/css/app.css")
            assert css.headers["cache-control"] == "max-age=0, must-revalidate"
            css_304 = await client.get(
                "/static/css/app.css", headers={"If-None-Match": css.headers["etag"]}
            )
            assert css_304.status_code == 304
            assert css_304.headers["cache-control"] == "max-age=0, must-revalidate"
            # Untracked: a live page and an excluded file keep their own headers.
            assert "cache-control" not in (await client.get("/live")).headers
            assert "cache-control" not in (await client.get("/static/drafts/wip.css")).headers
        sections = parse_manifest(manifest.text)
        assert sections["CACHE"] == [
            "/",
            "/offline",
            "/static/css/app.css",
            "/static/img/logo.svg",
            "/static/js/app.js",
        ]


@pytest.mark.parametrize("kind", KINDS)
async def test_two_workers_serve_the_build(kind: str, tmp_path: Path) -> None:
    root = copy_example(tmp_path / "example")
    out = build_example(root)
    env = {"APPCACHE_BUILD_DIR": "build"}
    with serve(root, kind=kind, module=MODULE, workers=2, env=env) as server:
        for name, path in URLS.items():
            responses = await fetch_all(server.url, path)
            assert {r.status_code for r in responses} == {200}, path
            assert {r.content for r in responses} == {(out / FILES[name]).read_bytes()}, path


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_url_stops_startup_and_shuts_the_lifespan_down(kind: str, tmp_path: Path) -> None:
    root = copy_example(tmp_path / "example")
    write(root / "broken.py", BROKEN_FASTAPI_APP)
    port = free_port()
    statuses, output = failed_start(
        root, command(kind, "broken:app", port, 2, None), f"http://127.0.0.1:{port}/"
    )
    assert statuses == [], "a worker served requests"
    assert "Cannot cache '/nope': the app answered 404" in output
    # Each worker that failed ran the app's shutdown (hypercorn may kill the
    # second worker once the first failed, before it gets that far).
    assert output.count("lifespan shut down") >= 1, output


@pytest.mark.parametrize("kind", KINDS)
async def test_an_app_under_a_root_path_lists_its_urls_under_it(kind: str, tmp_path: Path) -> None:
    root = copy_example(tmp_path / "example")
    # hypercorn passes the client's path as it came (/app/...); uvicorn
    # prepends --root-path to what a proxy already stripped.
    path = "/app/manifest.appcache" if kind == "hypercorn" else "/manifest.appcache"
    with serve(root, kind=kind, module=MODULE, root_path="/app", ready_path=path) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            text = (await client.get(path)).text
            worker = await client.get(path.replace("manifest.appcache", "sw.js"))
            css = await client.get(path.replace("manifest.appcache", "static/css/app.css"))
    sections = parse_manifest(text)
    assert sections["CACHE"][0] == "/app/"
    assert all(url.startswith("/app/") for url in sections["CACHE"])
    assert sections["FALLBACK"] == ["/app/ /app/offline"]
    assert worker.headers["service-worker-allowed"] == "/app/"
    assert css.headers["cache-control"] == "max-age=0, must-revalidate"
