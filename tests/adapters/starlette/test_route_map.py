"""How a plain Starlette app's routes read: return annotations, classes, groups, mounts."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from quart_appcache.route_map import Route as Read
from quart_appcache.starlette.routes import routes_of


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse("<h1>page</h1>")


async def api(request: Request) -> JSONResponse:
    return JSONResponse({})


async def anything(request: Request) -> Response:
    return Response("?")


async def untyped(request):  # type: ignore[no-untyped-def]
    return HTMLResponse("<h1>untyped</h1>")


class Form(HTTPEndpoint):
    async def post(self, request: Request) -> Response:
        return Response("posted")


class Listing(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return Response("listed")


def test_plain_starlette_routes_read_as_the_framework_says(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    app = Starlette(
        routes=[
            Route("/", page),
            Route("/api/items", api),
            Route("/any", anything),
            Route("/untyped", untyped),
            Route("/form", Form),
            Route("/listing", Listing),
            Route("/submit", page, methods=["POST"]),
            Route("/items/{item_id:int}", page),
            Mount("/blog", routes=[Route("/", page, name="blog_index")], name="blog"),
            Mount("/static", StaticFiles(directory=tmp_path / "static"), name="static"),
            Mount("/sub", Starlette(routes=[Route("/", page)]), name="sub"),
        ]
    )
    read = {route.path: route for route in routes_of(app)}
    assert read["/"] == Read("/", True, "page", name="page")
    assert read["/api/items"].kind == "other"
    assert read["/any"].kind == "unknown"  # a plain Response may carry anything
    assert read["/untyped"].kind == "unknown"
    assert read["/form"].get is False
    assert read["/listing"].get is True
    assert read["/submit"].get is False
    assert read["/items/{item_id:int}"].params
    # A Mount(routes=...) group is read through; a mounted app is one prefix.
    assert read["/blog/"] == Read("/blog/", True, "page", name="blog:blog_index")
    assert read["/static"].mount
    assert read["/static"].folders == (str(tmp_path / "static"),)
    assert read["/sub"].mount
    assert "/sub/" not in read  # its routes are its own
