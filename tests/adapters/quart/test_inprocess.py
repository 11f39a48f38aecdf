"""Views rendered in-process: status checks, isolation, timeouts."""

from __future__ import annotations

import asyncio
import time

import pytest
from quart import g, redirect, request

from quart_appcache import FetchError

from ...conftest import AppFactory


async def test_redirect_is_refused_with_its_target(make_app: AppFactory) -> None:
    app, appcache = make_app()

    @app.route("/old")
    async def old():  # type: ignore[no-untyped-def]
        return redirect("/")

    appcache.add_urls("/old")
    with pytest.raises(FetchError, match=r"'/old'.*302 redirecting to '/'") as info:
        await appcache.hash()
    assert (info.value.status, info.value.location) == (302, "/")


async def test_redirect_loop_is_an_error_not_a_hang(make_app: AppFactory) -> None:
    app, appcache = make_app()

    @app.route("/loop")
    async def loop():  # type: ignore[no-untyped-def]
        return redirect("/loop")

    appcache.add_urls("/loop")
    with pytest.raises(FetchError, match="'/loop'"):
        await asyncio.wait_for(appcache.hash(), 5)


@pytest.mark.parametrize("testing", [False, True])
async def test_view_exception_names_url_and_type(make_app: AppFactory, testing: bool) -> None:
    app, appcache = make_app()
    app.testing = testing

    @app.route("/boom")
    async def boom() -> str:
        raise KeyError("no such row")

    appcache.add_urls("/boom")
    with pytest.raises(FetchError, match=r"'/boom'.*KeyError") as info:
        await appcache.hash()
    assert isinstance(info.value.__cause__, KeyError)


async def test_500_answer_is_an_error(make_app: AppFactory) -> None:
    app, appcache = make_app()

    @app.route("/broken")
    async def broken() -> tuple[str, int]:
        return "oops", 500

    appcache.add_urls("/broken")
    with pytest.raises(FetchError, match=r"'/broken': the app answered 500\."):
        await appcache.hash()


async def test_hanging_view_is_ended_by_the_fetch_timeout(make_app: AppFactory) -> None:
    app, appcache = make_app(APPCACHE_FETCH_TIMEOUT=0.3)
    cancelled = asyncio.Event()

    @app.route("/hang")
    async def hang() -> str:
        try:
            await asyncio.sleep(3600)
        finally:
            cancelled.set()
        return ""

    appcache.add_urls("/", "/hang")
    started = time.perf_counter()
    with pytest.raises(FetchError, match=r"'/hang'.*0.3 s \(APPCACHE_FETCH_TIMEOUT\)"):
        await appcache.hash()
    assert time.perf_counter() - started < 2
    await asyncio.wait_for(cancelled.wait(), 1)


async def test_one_failure_cancels_the_other_renders(make_app: AppFactory) -> None:
    app, appcache = make_app()
    cancelled = asyncio.Event()

    @app.route("/slow")
    async def slow() -> str:
        try:
            await asyncio.sleep(3600)
        finally:
            cancelled.set()
        return ""

    appcache.add_urls("/slow", "/missing")
    with pytest.raises(FetchError, match="/missing"):
        await asyncio.wait_for(appcache.hash(), 5)
    await asyncio.wait_for(cancelled.wait(), 1)


async def test_nothing_of_the_manifest_request_reaches_the_views(make_app: AppFactory) -> None:
    app, appcache = make_app(debug=True)
    seen: list[dict[str, object]] = []

    @app.before_request
    async def mark() -> None:
        if request.path == "/manifest.appcache":
            g.user = "alice"

    @app.route("/probe")
    async def probe() -> str:
        seen.append(
            {
                "cookie": request.headers.get("Cookie"),
                "auth": request.headers.get("Authorization"),
                "query": request.args.to_dict(),
                "user": getattr(g, "user", None),
            }
        )
        return "probe"

    appcache.add_urls("/probe")
    client = app.test_client()
    client.set_cookie("localhost", "session", "secret")
    response = await client.get(
        "/manifest.appcache?x=1", headers={"Authorization": "Bearer secret"}
    )
    assert response.status_code == 200
    assert seen == [{"cookie": None, "auth": None, "query": {}, "user": None}]


async def test_url_base_sets_scheme_and_host(make_app: AppFactory) -> None:
    app, appcache = make_app(APPCACHE_URL_BASE="https://example.org:8443")

    @app.route("/where")
    async def where() -> str:
        return f"{request.scheme} {request.host}"

    appcache.add_urls("/where")
    await appcache.hash()
    site = appcache.site()
    assert await site.host.render("/where") == b"https example.org:8443"


async def test_query_string_urls_render_with_their_query(make_app: AppFactory) -> None:
    app, appcache = make_app()

    @app.route("/page")
    async def page() -> str:
        return request.args.get("lang", "none")

    appcache.add_urls("/page?lang=de", "/page?lang=fr")
    revisions = dict(await appcache.entries())
    assert revisions["/page?lang=de"] != revisions["/page?lang=fr"]


async def test_streamed_view_body_is_hashed_whole(make_app: AppFactory) -> None:
    app, appcache = make_app()

    @app.route("/stream")
    async def stream():  # type: ignore[no-untyped-def]
        async def body():  # type: ignore[no-untyped-def]
            for part in (b"a", b"b", b"c"):
                yield part

        return body(), 200

    appcache.add_urls("/stream")
    assert await appcache.site().host.render("/stream") == b"abc"
