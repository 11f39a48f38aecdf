"""Reading a Starlette app's routes: clashes with the artifact URLs, and StaticFiles mounts."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from ..errors import ConfigError

__all__ = ["StaticMount", "find_static", "route_for"]


@dataclass(frozen=True)
class StaticMount:
    """A ``StaticFiles`` app mounted on a route: its URL and its folders in lookup order."""

    name: str
    path: str
    directories: tuple[str, ...]
    follow_symlink: bool


def _walk(
    routes: Sequence[BaseRoute], path: str = "", name: str = ""
) -> Iterator[tuple[str, str, BaseRoute]]:
    for route in routes:
        route_path = path + getattr(route, "path", "")
        route_name = getattr(route, "name", None) or ""
        full_name = f"{name}:{route_name}" if name and route_name else route_name or name
        yield route_path, full_name, route
        if isinstance(route, Mount):
            yield from _walk(route.routes, route_path, full_name)


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
