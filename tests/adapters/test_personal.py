"""A personal or uncachable page is refused at finalize, on both adapters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from quart import Response
from starlette.requests import Request
from starlette.responses import HTMLResponse

from quart_appcache import FetchError

from ..conftest import AppFactory, StarletteFactory

Headers = dict[str, str]


def quart_app(make_app: AppFactory) -> Callable[[Headers], Any]:
    def make(headers: Headers) -> Any:
        app, appcache = make_app()

        @app.route("/account")
        async def account() -> Response:
            return Response("<h1>Hello, Ada</h1>", headers=headers)

        appcache.add_urls("/", "/account")
        appcache.app = app  # (the extension holds its apps weakly)
        return appcache

    return make


def starlette_app(make_starlette: StarletteFactory) -> Callable[[Headers], Any]:
    def make(headers: Headers) -> Any:
        app, appcache = make_starlette()

        async def account(request: Request) -> HTMLResponse:
            return HTMLResponse("<h1>Hello, Ada</h1>", headers=headers)

        app.add_route("/account", account)
        appcache.add_urls("/offline", "/account")
        appcache.app = app
        return appcache

    return make


@pytest.fixture(params=["quart", "starlette"])
def make(
    request: pytest.FixtureRequest, make_app: AppFactory, make_starlette: StarletteFactory
) -> Callable[[Headers], Any]:
    if request.param == "quart":
        return quart_app(make_app)
    return starlette_app(make_starlette)


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"Cache-Control": "private, max-age=60"}, "'Cache-Control: private'"),
        ({"Cache-Control": 'private="set-cookie"'}, "'Cache-Control: private'"),
        ({"Cache-Control": "no-store"}, "'Cache-Control: no-store'"),
        ({"Vary": "Accept-Encoding, Cookie"}, "'Vary: Cookie'"),
        ({"Vary": "authorization"}, "'Vary: Authorization'"),
        ({"Set-Cookie": "session=abc; HttpOnly"}, "'Set-Cookie'"),
        ({"Vary": "*"}, "'Vary: \\*', and browsers refuse to cache"),
    ],
)
async def test_a_personal_or_uncachable_view_is_refused_naming_url_and_header(
    make: Callable[[Headers], Any], headers: Headers, named: str
) -> None:
    appcache = make(headers)
    with pytest.raises(FetchError, match=rf"Cannot cache '/account': the app answered .*{named}"):
        await appcache.finalize()
    with pytest.raises(FetchError) as caught:
        await appcache.finalize()
    assert caught.value.url == "/account"
    assert "Remove the URL from the tracked URLs" in str(caught.value).replace(
        "remove the URL", "Remove the URL"
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Cache-Control": "public, max-age=60"},
        {"Vary": "Accept-Encoding"},
        {"Cache-Control": "no-cache"},
    ],
)
async def test_public_answers_are_cached(make: Callable[[Headers], Any], headers: Headers) -> None:
    appcache = make(headers)
    await appcache.finalize()
    assert "/account" in appcache.urls
