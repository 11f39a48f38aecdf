"""Which requests ask for a URL the bundle lists, and the headers those answers get.

One definition of "tracked" for every adapter: exactly the URLs the bundle
lists, compared in their canonical encoded form with the query string as the
browser sent it. A folder mounted at ``/`` makes its files tracked, never the
app's other routes. No framework imports.
"""

from __future__ import annotations

from collections.abc import Iterable

from .urls import encode_path, listed_key

__all__ = ["UrlMatcher", "cache_control_for_tracked", "request_key", "route_path"]

# Directives that decide how long a response may be reused; a tracked answer
# must always be revalidated, so these are replaced.
_FRESHNESS = frozenset(
    {"max-age", "s-maxage", "no-cache", "must-revalidate", "proxy-revalidate", "immutable"}
)
_FRESHNESS_EXTENSIONS = ("stale-while-revalidate", "stale-if-error")


class UrlMatcher:
    """The listed URLs of one bundle, ready to match requests.

    Args:
        urls: the bundle's URLs as listed (encoded, query included).
    """

    __slots__ = ("_keys",)

    def __init__(self, urls: Iterable[str]) -> None:
        self._keys = frozenset(listed_key(url) for url in urls)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)


def route_path(path: str, root_path: str) -> str:
    """The path a request asks for on the app itself, without its URL prefix.

    Servers differ: hypercorn passes the client's path as it came
    (``/app/static/x``), uvicorn prepends ``--root-path`` to a path a proxy
    already stripped. Either way the prefix is removed once, as Starlette's
    and Quart's routing do.
    """
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if not rest or rest[0] == "/":
            return rest or "/"
    return path


def request_key(path: str, query: bytes | str) -> str:
    """The comparison key of a request: its decoded route path and raw query.

    Args:
        path: the decoded path, without the URL prefix (see :func:`route_path`).
        query: the query string as the client sent it (still encoded).
    """
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    key = encode_path(path)
    return f"{key}?{query}" if query else key


def cache_control_for_tracked(existing: str | None, *, debug: bool) -> str:
    """The ``Cache-Control`` of a tracked URL's answer.

    A tracked URL must never be served stale from an HTTP cache (static
    files often carry hours of ``max-age``), or clients would cache old
    content under a new version. Freshness directives are replaced with
    ``max-age=0, must-revalidate`` (``no-cache`` in debug); the others
    (``private``, ``no-store``, ``no-transform``...) are kept.
    """
    kept = []
    for part in (existing or "").split(","):
        directive = part.strip()
        name = directive.partition("=")[0].strip().lower()
        if directive and name not in _FRESHNESS and not name.startswith(_FRESHNESS_EXTENSIONS):
            kept.append(directive)
    ours = ["no-cache"] if debug else ["max-age=0", "must-revalidate"]
    return ", ".join([*kept, *ours])
