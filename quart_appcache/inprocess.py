"""Rendering tracked views in-process through the Quart test client.

Each render is a fresh request from a cookie-less client, run in an empty
``contextvars`` context: nothing of the request that asked for the manifest
(cookies, auth, ``g``, the request context) can reach the view. A view must
answer ``200 OK`` directly; anything else is a :class:`FetchError` that names
the URL.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from quart import Quart, got_request_exception, request

from .errors import FetchError

__all__ = ["InProcessRenderer", "install", "is_render"]

_SCOPE_KEY = "quart_appcache"


def _marker() -> dict[str, Any] | None:
    marker = (request.scope.get("extensions") or {}).get(_SCOPE_KEY)
    return marker if isinstance(marker, dict) else None


def is_render() -> bool:
    """Whether the request being handled is one of our in-process renders."""
    return _marker() is not None


async def _record_exception(sender: Quart, exception: BaseException, **_: Any) -> None:
    # The view's own exception is visible only here when the app turns it
    # into a 500; remember it so the error can name its type.
    marker = _marker()
    if marker is not None:
        marker["exception"] = exception


async def _record_handler_task() -> None:
    # Quart runs the handler in a task of its own that outlives a cancelled
    # test-client request; remember it so a timeout can end the view.
    marker = _marker()
    if marker is not None:
        marker["task"] = asyncio.current_task()


def install(app: Quart) -> None:
    """Register the hooks that let renders of ``app`` name errors and time out."""
    got_request_exception.connect(_record_exception, app, weak=False)
    app.before_request(_record_handler_task)


class InProcessRenderer:
    """Renders URLs of one app through its test client.

    Args:
        app: the Quart app.
        url_base: ``(scheme, host)`` of the requests.
        timeout: seconds a single view may take.
        timeout_key: how the user wrote the timeout setting, for errors.
    """

    def __init__(
        self,
        app: Quart,
        url_base: tuple[str, str],
        timeout: float,
        timeout_key: str = "APPCACHE_FETCH_TIMEOUT",
    ) -> None:
        self.app = app
        self.scheme, self.host = url_base
        self.timeout = timeout
        self.timeout_key = timeout_key

    async def __call__(self, url: str) -> bytes:
        """Render ``url`` and return its body.

        Raises:
            FetchError: the view answered anything but 200, redirected, raised
                or took longer than the timeout.
        """
        task = asyncio.create_task(self._render(url), context=contextvars.Context())
        return await task

    async def _render(self, url: str) -> bytes:
        client = self.app.test_client_class(self.app, use_cookies=False)
        marker: dict[str, Any] = {}
        try:
            async with asyncio.timeout(self.timeout):
                response = await client.get(
                    url,
                    scheme=self.scheme,
                    headers={"Host": self.host},
                    scope_base={"extensions": {_SCOPE_KEY: marker}},
                )
                body = await response.get_data(as_text=False)
        except TimeoutError:
            raise FetchError(
                f"Cannot cache {url!r}: the view did not answer within {self.timeout:g} s "
                f"({self.timeout_key}). Make it answer faster or raise the timeout.",
                url=url,
            ) from None
        except Exception as error:
            raise FetchError(
                f"Cannot cache {url!r}: the view raised {type(error).__name__}: {error}. "
                "Fix the view or remove the URL from the tracked URLs.",
                url=url,
            ) from error
        finally:
            # Timed out or cancelled: end the view too, not just our wait.
            handler = marker.get("task")
            if isinstance(handler, asyncio.Task) and not handler.done():
                handler.cancel()
        status = response.status_code
        if 300 <= status < 400:
            raise FetchError(
                f"Cannot cache {url!r}: the app answered {status} redirecting to "
                f"{response.location!r}. Browsers refuse a redirected cache entry; "
                "track the target URL instead.",
                url=url,
                status=status,
                location=response.location,
            )
        if status != 200:
            cause = marker.get("exception")
            detail = f" after the view raised {type(cause).__name__}: {cause}" if cause else ""
            raise FetchError(
                f"Cannot cache {url!r}: the app answered {status}{detail}. "
                "Add or fix the route, or remove the URL from the tracked URLs.",
                url=url,
                status=status,
            ) from cause
        return body
