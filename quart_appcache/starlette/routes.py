"""Reading a Starlette app's routes: clashes with the artifact URLs, StaticFiles
mounts, and the route map the core finds pages and non-pages in."""

from __future__ import annotations

import inspect
import os
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Router
from starlette.staticfiles import StaticFiles

from .. import route_map
from ..asgi_render import HTML_TYPES
from ..errors import ConfigError

__all__ = ["StaticMount", "find_static", "route_for", "routes_of"]


@dataclass(frozen=True)
class StaticMount:
    """A ``StaticFiles`` app mounted on a route: its URL and its folders in lookup order."""

    name: str
    path: str
    directories: tuple[str, ...]
    follow_symlink: bool


def _walk(
    routes: Sequence[BaseRoute], path: str = "", name: str = "", *, into_apps: bool = True
) -> Iterator[tuple[str, str, Any]]:
    """Every route with its full path and name, mounts' routes after them.

    With ``into_apps=False`` only ``Mount(routes=[...])`` groups are read
    through; a mounted app is one route.
    """
    for route in _flattened(routes):
        route_path = path + getattr(route, "path", "")
        route_name = getattr(route, "name", None) or ""
        full_name = f"{name}:{route_name}" if name and route_name else route_name or name
        group = isinstance(route, Mount) and type(_inner(route)) is Router
        if not group or into_apps:
            yield route_path, full_name, route
        if isinstance(route, Mount) and (group or into_apps):
            yield from _walk(route.routes, route_path, full_name, into_apps=into_apps)


def _flattened(routes: Sequence[BaseRoute]) -> Iterator[Any]:
    # Newer FastAPI keeps an included router as one lazy route: its routes
    # (with the prefix) are its effective contexts.
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if callable(contexts):
            for context in contexts():
                yield getattr(context, "starlette_route", None) or context
        else:
            yield route


def route_for(app: Starlette) -> Callable[[str], str | None]:
    """Which of the app's routes is defined exactly on a path (for the clash check).

    The middleware answers the extension's URLs before routing, so such a
    route would never be reached. Routes with parameters (a catch-all for a
    single-page app) are fine: they simply do not get those URLs.
    """

    def exact(path: str) -> str | None:
        for route_path, route_name, route in _walk(app.routes):
            if not isinstance(route, Mount) and "{" not in route_path and route_path == path:
                return route_name or repr(route)
        return None

    return exact


def find_static(app: Starlette, name: str) -> StaticMount:
    """The ``StaticFiles`` mounted under the route name ``name``.

    Nested mounts are named like ``url_path_for`` names them (``"api:static"``).
    Relative directories resolve against the working directory, as
    ``StaticFiles`` resolves them.

    Raises:
        ConfigError: no mount has that name, or it is not a ``StaticFiles``.
    """
    mounts = [
        (path, full, route) for path, full, route in _walk(app.routes) if isinstance(route, Mount)
    ]
    statics = [
        (path, full) for path, full, route in mounts if isinstance(_inner(route), StaticFiles)
    ]
    for path, full, route in mounts:
        if full != name:
            continue
        static = _inner(route)
        if not isinstance(static, StaticFiles):
            raise ConfigError(
                f"add_static({name!r}): the mount {name!r} at {path or '/'!r} serves "
                f"{type(static).__name__}, not StaticFiles. Track its files with add_folder() "
                "or its pages with add_urls()."
            )
        return StaticMount(
            name,
            path or "/",
            tuple(os.path.abspath(os.fspath(d)) for d in static.all_directories),
            static.follow_symlink,
        )
    known = ", ".join(f"{full!r} at {path or '/'!r}" for path, full in statics) or "none"
    raise ConfigError(
        f"add_static({name!r}): the app has no StaticFiles mounted under the name {name!r} "
        f"(mounted StaticFiles: {known}). Mount it first, like "
        f"app.mount('/static', StaticFiles(directory='static'), name={name!r}), "
        "or track the folder with add_folder()."
    )


def _inner(route: Mount) -> object:
    # Mount(..., middleware=[...]) wraps the app; the StaticFiles is the base.
    return getattr(route, "_base_app", route.app)


def routes_of(app: Starlette) -> list[route_map.Route]:
    """The app's route map as the core reads it.

    ``Mount(routes=[...])`` groups are read through; a mounted app (another
    Starlette or FastAPI app, anything but ``StaticFiles``) is one prefix.
    What a route answers is read from FastAPI's ``response_class`` or the
    endpoint's return annotation; where neither says, it is ``"unknown"``.
    """
    docs = {getattr(app, name, None) for name in _FASTAPI_DOCS} - {None}
    found: list[route_map.Route] = []
    for path, name, route in _walk(app.routes, into_apps=False):
        if isinstance(route, Mount):
            inner = _inner(route)
            folders = (
                tuple(os.path.abspath(os.fspath(d)) for d in inner.all_directories)
                if isinstance(inner, StaticFiles)
                else ()
            )
            found.append(route_map.Route(path, mount=True, folders=folders, name=name))
        elif hasattr(route, "endpoint") and hasattr(route, "methods"):
            # FastAPI's own documentation pages need the network: not app pages.
            kind = "other" if path in docs else _kind(route)
            found.append(route_map.Route(path, _answers_get(route), kind, name=name))
    return found


# The FastAPI attributes holding the URLs of its documentation routes.
_FASTAPI_DOCS = ("docs_url", "redoc_url", "openapi_url", "swagger_ui_oauth2_redirect_url")


def _answers_get(route: Any) -> bool:
    if route.methods is not None:
        return "GET" in route.methods
    # A class endpoint (HTTPEndpoint) answers the methods it defines.
    return not inspect.isclass(route.endpoint) or hasattr(route.endpoint, "get")


def _kind(route: Any) -> route_map.RouteKind:
    """What a route answers, as far as the framework says."""
    declared = getattr(route, "response_class", None)  # FastAPI's APIRoute
    default = getattr(declared, "value", None)  # FastAPI's DefaultPlaceholder
    if isinstance(declared, type):
        return _kind_of(declared)
    returned = _return_type(route.endpoint)
    if isinstance(returned, type) and issubclass(returned, Response):
        return _kind_of(returned)
    if declared is not None:
        # FastAPI: a value the endpoint returns goes out as the default class.
        if returned is not None or getattr(route, "response_model", None) is not None:
            return _kind_of(default) if isinstance(default, type) else "other"
        if isinstance(default, type) and _kind_of(default) == "page":
            return "page"
    return "unknown"


def _kind_of(response_class: type) -> route_map.RouteKind:
    if issubclass(response_class, HTMLResponse) or (
        getattr(response_class, "media_type", None) in HTML_TYPES
    ):
        return "page"
    # A plain Response may carry anything.
    return "unknown" if response_class is Response else "other"


def _return_type(endpoint: Callable[..., object]) -> object:
    """The endpoint's return annotation, resolved, or ``None``."""
    try:
        hints = typing.get_type_hints(endpoint)
    except Exception:  # unresolvable forward references, odd callables
        return None
    returned = hints.get("return")
    return None if returned is type(None) else returned
