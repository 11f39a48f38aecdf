"""Rendering tracked URLs in-process through a Starlette or FastAPI app.

Each render is one small ASGI request made by hand, as Quart's test client
does: a fresh scope with the configured scheme and host, no cookies or
headers of any incoming request, no ``Accept-Encoding``, and a copy of the
lifespan state (so ``request.state.db`` works). Redirects are never
followed. The app is awaited in a task of its own with an empty context, and
the timeout stops *waiting*: a sync ``def`` endpoint runs in a thread that
cannot be cancelled, so it is left to finish on its own.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import FetchError

__all__ = ["RENDER_KEY", "AsgiRenderer"]

# Marks the scope of an in-process render (the middleware leaves it alone).
RENDER_KEY = "quart_appcache.render"

ASGIApp = Any  # starlette.types.ASGIApp, kept out so this module needs no Starlette


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
        state: Mapping[str, Any] | None,
    ) -> None:
        self.app = app
        self.scheme, self.host = url_base
        self.timeout = timeout
        self.timeout_key = timeout_key
        self.state = state

    def scope(self, url: str) -> dict[str, Any]:
        """The ASGI scope of a GET for ``url`` (an encoded path with an optional query)."""
        path, _, query = url.partition("?")
        netloc = urlsplit(f"//{self.host}")
        port = netloc.port or (443 if self.scheme == "https" else 80)
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
            "headers": [(b"host", self.host.encode("ascii"))],
            "client": ("127.0.0.1", 0),
            "server": (netloc.hostname or "localhost", port),
            "state": dict(self.state or {}),
            "extensions": {RENDER_KEY: {}},
        }

    async def __call__(self, url: str) -> bytes:
        """Render ``url`` and return its body.

        Raises:
            FetchError: the app answered anything but 200, redirected,
                raised, or took longer than the timeout.
        """
        response = _Response()
        task = asyncio.create_task(
            self.app(self.scope(url), response.receive, response.send),
            context=contextvars.Context(),
        )
        task.add_done_callback(_retrieve)
        try:
            done, _ = await asyncio.wait({task}, timeout=self.timeout)
        finally:
            if not task.done():
                task.cancel()  # a thread it waits for finishes on its own
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
        return response.checked(url)


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # a render abandoned at its timeout may fail later, unseen


class _Response:
    """Collects what the app sends for one render."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.location: str | None = None
        self.body = bytearray()
        self._asked = False
        self._complete = asyncio.Event()

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
                if name.lower() == b"location":
                    self.location = value.decode("latin-1")
        elif kind == "http.response.body":
            self.body += message.get("body", b"")
            if not message.get("more_body", False):
                self._complete.set()

    def checked(self, url: str) -> bytes:
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
            raise FetchError(
                f"Cannot cache {url!r}: the app answered {status}. "
                "Add or fix the route, or remove the URL from the tracked URLs.",
                url=url,
                status=status,
            )
        return bytes(self.body)
