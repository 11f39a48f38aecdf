"""Rendering tracked URLs in-process: one small ASGI request per URL, made by hand.

Both adapters render through this: a Quart app and a Starlette or FastAPI app
are ASGI apps. Each render is a fresh scope with the configured scheme and
host, no cookies or headers of any incoming request, no ``Accept-Encoding``,
and (Starlette) a copy of the lifespan state, so ``request.state.db`` works.
Redirects are never followed, and an answer that says it is personal
(``Cache-Control: private`` or ``no-store``, ``Vary: Cookie`` or
``Authorization``, ``Set-Cookie``) or uncachable (``Vary: *``) is refused:
the offline bundle is the same for everyone. The app runs in a task of its own with an empty
``contextvars`` context, so nothing of the request that asked for the
manifest reaches the view.

The timeout stops *waiting*: the app is told the client disconnected (Quart
then cancels the view) and, a moment later, its task is cancelled; a sync
``def`` endpoint stuck in a thread finishes on its own.

The scope carries a marker (``scope["extensions"][RENDER_KEY]``): adapters
skip their header hooks for it, and the Quart adapter records there the
exception a view raised, so the error can name it. No framework imports.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import FetchError
from .route_map import Probe

__all__ = ["HTML_TYPES", "RENDER_KEY", "AsgiRenderer", "is_render_scope"]

# The content types of a page.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

RENDER_KEY = "quart_appcache.render"
# How long a timed-out app may take to stop after being told the client left,
# before its task is cancelled.
CANCEL_GRACE = 0.1

ASGIApp = Any  # any ASGI 3 callable: (scope, receive, send) -> awaitable


def is_render_scope(scope: Mapping[str, Any]) -> bool:
    """Whether an ASGI scope is one of our in-process renders."""
    extensions = scope.get("extensions")
    return isinstance(extensions, Mapping) and RENDER_KEY in extensions


class AsgiRenderer:
    """Renders URLs of one ASGI app in-process.

    Args:
        app: the ASGI app (the whole app, middleware included).
        url_base: ``(scheme, host)`` of the requests.
        timeout: seconds a single render may take.
        timeout_key: how the user wrote the timeout setting, for errors.
        state: the lifespan state; each render gets a shallow copy.
    """

    def __init__(
        self,
        app: ASGIApp,
        url_base: tuple[str, str],
        timeout: float,
        timeout_key: str,
        state: Mapping[str, Any] | None = None,
    ) -> None:
        self.app = app
        self.scheme, self.host = url_base
        self.timeout = timeout
        self.timeout_key = timeout_key
        self.state = state
        netloc = urlsplit(f"//{self.host}")
        self._server = (
            netloc.hostname or "localhost",
            netloc.port or (443 if self.scheme == "https" else 80),
        )
        self._headers = [(b"host", self.host.encode("ascii"))]

    def scope(self, url: str, marker: dict[str, Any]) -> dict[str, Any]:
        """The ASGI scope of a GET for ``url`` (an encoded path with an optional query)."""
        path, _, query = url.partition("?")
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": self.scheme,
            "path": unquote(path),
            "raw_path": path.encode("ascii"),
            "query_string": query.encode("ascii"),
            "root_path": "",
            "headers": list(self._headers),
            "client": ("127.0.0.1", 0),
            "server": self._server,
            "state": dict(self.state or {}),
            "extensions": {RENDER_KEY: marker},
        }

    async def __call__(self, url: str) -> bytes:
        """Render ``url`` and return its body.

        Raises:
            FetchError: the app answered anything but 200, redirected,
                raised, or took longer than the timeout.
        """
        response, cause = await self._run(url)
        return response.checked(url, cause)

    async def probe(self, url: str) -> Probe:
        """Render ``url`` and tell whether it is a page to precache (``add_routes()``).

        A page answers 200 with an HTML content type and nothing personal;
        an answer of another type, or a redirect, is a non-page. Never raises
        for what the app answers.
        """
        try:
            response, cause = await self._run(url)
        except FetchError as error:
            return Probe(None, reason=str(error))
        status, media = response.status, response.media_type
        if status is not None and 300 <= status < 400:
            return Probe(None, True, f"it redirects ({status}) to {response.location!r}")
        if media not in HTML_TYPES:
            return Probe(None, True, f"it answers {media or 'no Content-Type'}, not a page")
        try:
            return Probe(response.checked(url, cause))
        except FetchError as error:
            return Probe(None, reason=str(error))

    async def _run(self, url: str) -> tuple[_Response, BaseException | None]:
        """Send the app a GET of ``url``; its answer, and the exception a Quart view raised."""
        marker: dict[str, Any] = {}
        response = _Response()
        task = asyncio.create_task(
            self.app(self.scope(url, marker), response.receive, response.send),
            context=contextvars.Context(),
        )
        task.add_done_callback(_retrieve)
        try:
            done, _ = await asyncio.wait({task}, timeout=self.timeout)
        finally:
            if not task.done():
                # The client "leaves": Quart cancels the view, Starlette
                # may not; its task is cancelled a moment later either way.
                response.disconnect()
                asyncio.get_running_loop().call_later(CANCEL_GRACE, task.cancel)
        if not done:
            raise FetchError(
                f"Cannot cache {url!r}: the view did not answer within {self.timeout:g} s "
                f"({self.timeout_key}). Make it answer faster or raise the timeout.",
                url=url,
            )
        error = task.exception() if not task.cancelled() else None
        if error is not None:
            raise FetchError(
                f"Cannot cache {url!r}: the view raised {type(error).__name__}: {error}. "
                "Fix the view or remove the URL from the tracked URLs.",
                url=url,
            ) from error
        return response, marker.get("exception")


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # a render abandoned at its timeout may fail later, unseen


class _Response:
    """Collects what the app sends for one render."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.location: str | None = None
        # The headers that say an answer is personal or uncachable.
        self.cache_control: list[str] = []
        self.vary: list[str] = []
        self.sets_cookie = False
        self.media_type = ""
        self.body = bytearray()
        self._asked = False
        self._complete = asyncio.Event()

    def disconnect(self) -> None:
        self._complete.set()

    async def receive(self) -> dict[str, Any]:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._complete.wait()  # the client "disconnects" once it has the response
        return {"type": "http.disconnect"}

    async def send(self, message: Mapping[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = int(message["status"])
            for name, value in message.get("headers", []):
                lower = name.lower()
                if lower == b"location":
                    self.location = value.decode("latin-1")
                elif lower == b"cache-control":
                    self.cache_control.append(value.decode("latin-1"))
                elif lower == b"vary":
                    self.vary.append(value.decode("latin-1"))
                elif lower == b"set-cookie":
                    self.sets_cookie = True
                elif lower == b"content-type":
                    self.media_type = value.decode("latin-1").partition(";")[0].strip().lower()
        elif kind == "http.response.body":
            self.body += message.get("body", b"")
            if not message.get("more_body", False):
                self._complete.set()

    def checked(self, url: str, cause: BaseException | None) -> bytes:
        status = self.status
        if status is None or not self._complete.is_set():
            raise FetchError(
                f"Cannot cache {url!r}: the app returned without a complete response. "
                "Fix the view or remove the URL from the tracked URLs.",
                url=url,
            )
        if 300 <= status < 400:
            raise FetchError(
                f"Cannot cache {url!r}: the app answered {status} redirecting to "
                f"{self.location!r}. Browsers refuse a redirected cache entry; "
                "track the target URL instead.",
                url=url,
                status=status,
                location=self.location,
            )
        if status != 200:
            detail = f" after the view raised {type(cause).__name__}: {cause}" if cause else ""
            raise FetchError(
                f"Cannot cache {url!r}: the app answered {status}{detail}. "
                "Add or fix the route, or remove the URL from the tracked URLs.",
                url=url,
                status=status,
            ) from cause
        problem = self.personal()
        if problem is not None:
            raise FetchError(f"Cannot cache {url!r}: {problem}", url=url, status=status)
        return bytes(self.body)

    def personal(self) -> str | None:
        """Why the answer must not go into a bundle every visitor shares, if it must not.

        The worker downloads entries without cookies and serves them to
        whoever uses the browser, so a page that says it is personal (or that
        no cache may keep) cannot be an entry.
        """
        directives = _tokens(self.cache_control)
        varies = _tokens(self.vary)
        fix = (
            "The offline bundle is public, the same for everyone: remove the URL from the "
            "tracked URLs, or make the view answer one page for every visitor without "
            "that header."
        )
        if "*" in varies:
            return (
                "the app answered 'Vary: *', and browsers refuse to cache such an answer, "
                "so every install would fail. Remove the URL from the tracked URLs, or "
                "answer without 'Vary: *'."
            )
        for directive in ("private", "no-store"):
            if directive in directives:
                return f"the app answered 'Cache-Control: {directive}', a personal page. {fix}"
        for header in ("cookie", "authorization"):
            if header in varies:
                return (
                    f"the app answered 'Vary: {header.title()}': the page depends on who "
                    f"asks. {fix}"
                )
        if self.sets_cookie:
            return f"the app answered with 'Set-Cookie', a personal answer. {fix}"
        return None


def _tokens(values: list[str]) -> set[str]:
    # `private="set-cookie"` is still private: only the directive's name counts.
    return {
        token.strip().partition("=")[0].strip().lower()
        for value in values
        for token in value.split(",")
        if token.strip()
    }
