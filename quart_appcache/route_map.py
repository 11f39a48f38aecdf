"""The app's route map: which routes are pages to precache, and which are not pages.

An adapter reads its framework's routes into :class:`Route` records (path,
whether it answers GET, what the framework says it returns). From them this
module finds the pages ``add_routes()`` adds, rendering the routes whose
answer only a render can tell, and the non-pages (an API, a download, an
OAuth callback) whose page loads the worker must never answer with the
FALLBACK page. No framework imports.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .urls import encode_path

__all__ = [
    "Discovery",
    "NonPages",
    "Probe",
    "Route",
    "RouteKind",
    "RoutesDeclaration",
    "assign",
    "discover",
    "non_pages_of",
    "path_pattern",
]

logger = logging.getLogger("quart_appcache")

# page: the framework says it answers HTML; other: it says JSON, a file, a
# redirect...; unknown: only a render can tell.
RouteKind = Literal["page", "other", "unknown"]

# A parameter in a route's path as adapters write it: {name} or {name:path}.
_PARAM = re.compile(r"\{([^{}:]+)(?::([^{}]+))?\}")
_JS_SPECIAL = re.compile(r"[.^$*+?()\[\]{}|\\]")


@dataclass(frozen=True, slots=True)
class Route:
    """One route of the app, as its adapter reads the route map.

    Attributes:
        path: the path within the app (decoded), parameters written
            ``{name}`` or ``{name:path}``; a mount's prefix.
        get: whether it answers GET.
        kind: what the framework says it answers (see :data:`RouteKind`).
        mount: ``path`` is a prefix: the route answers every path under it.
        folders: the folders of static files it serves (absolute paths);
            those the bundle tracks are neither pages nor non-pages.
        name: the endpoint or route name, for messages.
    """

    path: str
    get: bool = True
    kind: RouteKind = "unknown"
    mount: bool = False
    folders: tuple[str, ...] = ()
    name: str = ""

    @property
    def params(self) -> bool:
        """Whether the path has parameters."""
        return _PARAM.search(self.path) is not None


@dataclass(frozen=True, slots=True)
class NonPages:
    """Page loads the worker never answers with the FALLBACK page.

    Attributes:
        prefixes: encoded path prefixes within the app.
        patterns: JavaScript regular expressions (sources, no flags) matched
            against the encoded path within the app.
    """

    prefixes: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    def as_json(self) -> dict[str, list[str]]:
        """The record a build keeps."""
        return {"prefixes": list(self.prefixes), "patterns": list(self.patterns)}


@dataclass(frozen=True, slots=True)
class Discovery:
    """What the route map gave: the pages ``add_routes()`` added, and the non-pages."""

    pages: tuple[str, ...] = ()
    non_pages: NonPages = NonPages()


@dataclass(eq=False)
class RoutesDeclaration:
    """One ``add_routes()`` call, in the declarations' order; ``urls`` is what it found."""

    exclude: tuple[str, ...]
    urls: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Probe:
    """What rendering a route as a page gave.

    Attributes:
        body: the page's bytes, when it is a page every visitor may get.
        non_page: it answered something that is not a page (JSON, a file, a
            redirect): its page loads must never get the FALLBACK page.
        reason: why it was left out, for the log.
    """

    body: bytes | None
    non_page: bool = False
    reason: str = ""


def path_pattern(path: str) -> str:
    """A route's path as an anchored JavaScript regular expression over encoded paths.

    ``{name}`` matches one segment, ``{name:path}`` the rest of the path.
    """
    parts: list[str] = []
    end = 0
    for match in _PARAM.finditer(path):
        parts.append(_literal(path[end : match.start()]))
        parts.append(".*" if match.group(2) == "path" else "[^/]+")
        end = match.end()
    parts.append(_literal(path[end:]))
    return "^" + "".join(parts) + "$"


def _literal(text: str) -> str:
    return _JS_SPECIAL.sub(lambda match: "\\" + match.group(0), encode_path(text))


def non_pages_of(routes: Iterable[Route], tracked: Container[str]) -> tuple[list[str], list[str]]:
    """The prefixes and patterns the route map alone says are not pages.

    Args:
        routes: the app's routes.
        tracked: the folders the bundle tracks: their static routes are left be.
    """
    prefixes: list[str] = []
    patterns: list[str] = []
    for route in routes:
        if route.folders and any(folder in tracked for folder in route.folders):
            continue
        if route.mount:
            # A mounted app that is not the bundle's static files: an API,
            # downloads. (One mounted at the root is the whole site: left be.)
            base = route.path.rstrip("/")
            if base:
                prefixes.append(encode_path(base) + "/")
                patterns.append(path_pattern(base))
        elif not route.get or route.kind == "other" or route.folders:
            patterns.append(path_pattern(route.path))
    return prefixes, patterns


async def discover(
    routes: Sequence[Route],
    declarations: Sequence[RoutesDeclaration],
    tracked: Container[str],
    skipped: Callable[[str], bool],
    probe: Callable[[str], Awaitable[Probe]],
) -> tuple[Discovery, dict[str, bytes]]:
    """Find the pages and non-pages of the route map, and fill each declaration's URLs.

    Args:
        routes: the app's routes.
        declarations: the ``add_routes()`` calls; without any, nothing is rendered.
        tracked: the folders the bundle tracks.
        skipped: whether an encoded URL is never a page to add (the
            extension's own, under NETWORK, excluded).
        probe: renders a URL as a page.

    Returns:
        The discovery, and the bodies of the pages found (a first computation
        uses them rather than rendering again).
    """
    prefixes, patterns = non_pages_of(routes, tracked)
    # Encoded URL -> the route's path, for every route that may be a page.
    candidates: dict[str, str] = {}
    if declarations:
        for route in routes:
            if route.mount or route.params or route.folders or not route.get:
                continue
            if route.kind == "other":  # the framework says so: no render needed
                continue
            url = encode_path(route.path)
            if url not in candidates and not skipped(url):
                candidates[url] = route.path
    probes = await asyncio.gather(*(probe(url) for url in candidates))
    pages: list[str] = []
    bodies: dict[str, bytes] = {}
    for (url, path), result in zip(candidates.items(), probes, strict=True):
        if result.body is not None:
            pages.append(url)
            bodies[url] = result.body
            continue
        logger.debug("quart_appcache: add_routes() left out %r: %s", url, result.reason)
        if result.non_page:
            patterns.append(path_pattern(path))
    found = assign(declarations, pages)
    discovery = Discovery(
        found, NonPages(tuple(dict.fromkeys(prefixes)), tuple(dict.fromkeys(patterns)))
    )
    return discovery, bodies


def assign(declarations: Sequence[RoutesDeclaration], pages: Iterable[str]) -> tuple[str, ...]:
    """Give each ``add_routes()`` call the pages its ``exclude`` lets through;
    return the pages some call took, in order."""
    pages = list(pages)
    found: dict[str, None] = {}
    for declaration in declarations:
        declaration.urls = tuple(url for url in pages if not url.startswith(declaration.exclude))
        found.update(dict.fromkeys(declaration.urls))
    return tuple(found)
