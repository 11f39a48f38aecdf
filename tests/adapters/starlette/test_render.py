"""In-process renders through a Starlette or FastAPI app: isolation, statuses, timeouts."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from quart_appcache.hashing import revision_of
from quart_appcache.starlette import Appcache, FetchError

from ...starlette_apps import client

BODY = "x" * 4000  # long enough for GZipMiddleware to compress it


def app_with(*routes: Route, **settings: object) -> tuple[Starlette, Appcache]:
    app = Starlette(routes=list(routes), middleware=[Middleware(GZipMiddleware, minimum_size=100)])
    return app, Appcache(app, **settings)  # type: ignore[arg-type]


async def test_fresh_request_without_anything_of_the_incoming_one() -> None:
    seen: list[dict[str, object]] = []

    async def probe(request: Request) -> PlainTextResponse:
        seen.append(
            {
                "cookies": dict(request.cookies),
                "headers": sorted(request.headers.keys()),
                "url": str(request.url),
                "client": request.client.host if request.client else None,
            }
        )
        return PlainTextResponse(BODY)

    app, appcache = app_with(
        Route("/probe", probe), url_base="https://example.org:8443", debug=True
    )
    appcache.add_urls("/probe")
    async with client(app) as http:
        http.cookies.set("session", "secret")
        response = await http.get(
            "/manifest.appcache?x=1",
            headers={"Authorization": "Bearer secret", "Accept-Encoding": "gzip"},
        )
    assert response.status_code == 200
    assert seen == [
        {
            "cookies": {},
            "headers": ["host"],
            "url": "https://example.org:8443/probe",
            "client": "127.0.0.1",
        }
    ]
    # No Accept-Encoding: the revision is of the plain body, not of gzip bytes.
    assert await appcache.entries() == [("/probe", revision_of(BODY.encode()))]


async def test_encoded_urls_and_queries_reach_the_view_decoded() -> None:
    async def cafe(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"{request.url.path} {request.query_params['q']}")

    _app, appcache = app_with(Route("/café", cafe))
    appcache.add_urls("/café?q=ü")
    assert appcache.urls == ("/caf%C3%A9?q=%C3%BC",)
    assert await appcache.entries() == [("/caf%C3%A9?q=%C3%BC", revision_of("/café ü".encode()))]


async def test_redirects_are_never_followed() -> None:
    async def old(request: Request) -> RedirectResponse:
        return RedirectResponse("/new")

    _app, appcache = app_with(Route("/old", old))
    appcache.add_urls("/old")
    with pytest.raises(FetchError, match=r"'/old'.*307 redirecting to '/new'") as info:
        await appcache.hash()
    assert (info.value.status, info.value.location) == (307, "/new")


async def test_an_exception_names_the_url_and_its_type() -> None:
    async def boom(request: Request) -> Response:
        raise KeyError("no such row")

    _app, appcache = app_with(Route("/boom", boom))
    appcache.add_urls("/boom")
    with pytest.raises(FetchError, match=r"'/boom': the view raised KeyError") as info:
        await appcache.hash()
    assert isinstance(info.value.__cause__, KeyError)


async def test_statuses_other_than_200_are_errors() -> None:
    async def teapot(request: Request) -> PlainTextResponse:
        return PlainTextResponse("no", status_code=418)

    _app, appcache = app_with(Route("/teapot", teapot))
    appcache.add_urls("/teapot", "/missing")
    with pytest.raises(FetchError, match=r"the app answered (418|404)\.") as info:
        await appcache.hash()
    assert info.value.status in (404, 418)


async def test_a_streamed_body_is_hashed_whole() -> None:
    async def stream(request: Request) -> StreamingResponse:
        async def parts():  # type: ignore[no-untyped-def]
            for part in (b"a", b"b", b"c"):
                yield part

        return StreamingResponse(parts())

    _app, appcache = app_with(Route("/stream", stream))
    appcache.add_urls("/stream")
    assert await appcache.entries() == [("/stream", revision_of(b"abc"))]


async def test_a_hanging_async_view_is_ended_by_the_timeout() -> None:
    cancelled = asyncio.Event()

    async def hang(request: Request) -> PlainTextResponse:
        try:
            await asyncio.sleep(3600)
        finally:
            cancelled.set()
        return PlainTextResponse("")

    _app, appcache = app_with(Route("/hang", hang), fetch_timeout=0.3)
    appcache.add_urls("/hang")
    started = time.perf_counter()
    with pytest.raises(FetchError, match=r"'/hang'.*0.3 s \(Appcache\(fetch_timeout=\.\.\.\)\)"):
        await appcache.hash()
    assert time.perf_counter() - started < 2
    await asyncio.wait_for(cancelled.wait(), 1)


async def test_a_sync_view_in_a_thread_stops_the_wait_not_the_thread() -> None:
    release = threading.Event()

    def blocking(request: Request) -> PlainTextResponse:
        release.wait(10)  # a thread cannot be cancelled; it ends when released
        return PlainTextResponse("late")

    app = FastAPI()
    app.add_api_route("/blocking", blocking)
    appcache = Appcache(app, fetch_timeout=0.3)
    appcache.add_urls("/blocking")
    started = time.perf_counter()
    try:
        with pytest.raises(FetchError, match=r"'/blocking'.*within 0.3 s"):
            await appcache.hash()
        assert time.perf_counter() - started < 2
    finally:
        release.set()


async def test_one_failure_cancels_the_other_renders(tmp_path: Path) -> None:
    cancelled = asyncio.Event()

    async def slow(request: Request) -> PlainTextResponse:
        try:
            await asyncio.sleep(3600)
        finally:
            cancelled.set()
        return PlainTextResponse("")

    _app, appcache = app_with(Route("/slow", slow), base_dir=tmp_path)
    appcache.add_urls("/slow", "/missing")
    with pytest.raises(FetchError, match="/missing"):
        await asyncio.wait_for(appcache.hash(), 5)
    await asyncio.wait_for(cancelled.wait(), 1)
