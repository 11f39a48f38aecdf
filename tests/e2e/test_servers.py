"""hypercorn and uvicorn with two workers: identical bytes, builds, failed starts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from quart_appcache.build import FILES

from ..conftest import parse_manifest, write
from .servers import (
    BROKEN_APP,
    command,
    copy_example,
    free_port,
    log,
    run_quart,
    run_to_exit,
    serve,
)

pytestmark = pytest.mark.server

KINDS = ["hypercorn", "uvicorn"]
URLS = {"manifest": "/manifest.appcache", "precache": "/precache-manifest.json", "sw": "/sw.js"}


async def fetch_all(base: str, path: str, count: int = 50) -> list[httpx.Response]:
    # Fresh connections, a few at a time, so both workers answer.
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:
        return await asyncio.gather(*(client.get(path) for _ in range(count)))


def build_example(root: Path) -> Path:
    done = run_quart(root, "--app", "app:app", "appcache", "build")
    assert done.returncode == 0, done.stderr
    return root / "instance" / "appcache"


@pytest.mark.parametrize("kind", KINDS)
async def test_two_workers_serve_identical_bytes_without_a_build(kind: str, tmp_path: Path) -> None:
    root = copy_example(tmp_path / "example")
    with serve(root, kind=kind, workers=2) as server:
        for path in URLS.values():
            responses = await fetch_all(server.url, path)
            assert {r.status_code for r in responses} == {200}, path
            assert len({r.content for r in responses}) == 1, path
        etags = {r.headers["etag"] for r in await fetch_all(server.url, "/manifest.appcache", 20)}
        assert len(etags) == 1
        assert "Traceback" not in log(server)


@pytest.mark.parametrize("kind", KINDS)
async def test_two_workers_serve_the_build(kind: str, tmp_path: Path) -> None:
    root = copy_example(tmp_path / "example")
    out = build_example(root)
    with serve(root, kind=kind, workers=2) as server:
        for name, path in URLS.items():
            responses = await fetch_all(server.url, path)
            assert {r.status_code for r in responses} == {200}, path
            assert {r.content for r in responses} == {(out / FILES[name]).read_bytes()}, path


@pytest.mark.parametrize("kind", KINDS)
def test_a_404_url_stops_the_server_from_starting(kind: str, tmp_path: Path) -> None:
    root = copy_example(tmp_path / "example")
    write(root / "broken.py", BROKEN_APP)
    done = run_to_exit(root, command(kind, "broken:app", free_port(), 2, None))
    output = done.stdout + done.stderr
    assert "Cannot cache '/nope': the app answered 404" in output


async def test_conditional_get_through_a_real_server(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "example")
    with serve(root, kind="uvicorn") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            first = await client.get("/manifest.appcache")
            again = await client.get(
                "/manifest.appcache", headers={"If-None-Match": first.headers["etag"]}
            )
            assert again.status_code == 304
            assert again.content == b""
            head = await client.head("/manifest.appcache")
            assert head.status_code == 200
            assert head.content == b""
            # (httpx asks for gzip: the lengths are of the same, compressed form.)
            assert head.headers["content-length"] == first.headers["content-length"]
            assert head.headers["content-encoding"] == first.headers["content-encoding"] == "gzip"


@pytest.mark.parametrize("kind", KINDS)
async def test_an_app_under_a_root_path_lists_its_urls_under_it(kind: str, tmp_path: Path) -> None:
    root = copy_example(tmp_path / "example")
    # hypercorn passes the client's path as it came (/app/...); uvicorn
    # prepends --root-path to what a proxy already stripped.
    path = "/app/manifest.appcache" if kind == "hypercorn" else "/manifest.appcache"
    with serve(root, kind=kind, root_path="/app", ready_path=path) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            text = (await client.get(path)).text
            worker = await client.get(path.replace("manifest.appcache", "sw.js"))
            css = await client.get(path.replace("manifest.appcache", "static/css/app.css"))
            page = await client.get(path.replace("manifest.appcache", ""))
    sections = parse_manifest(text)
    assert sections["CACHE"][0] == "/app/"
    assert all(url.startswith("/app/") for url in sections["CACHE"])
    assert sections["FALLBACK"] == ["/app/ /app/offline"]
    assert worker.headers["service-worker-allowed"] == "/app/"
    assert '"/app/static/js/app.js"' in worker.text
    assert "must-revalidate" in css.headers["cache-control"]
    assert '<script src="/app/appcache.js" data-sw="/app/sw.js" data-scope="/app/"' in page.text
