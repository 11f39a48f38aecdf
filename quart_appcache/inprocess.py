"""The Quart side of in-process renders (:mod:`quart_appcache.asgi_render`).

Renders are plain ASGI requests into the app. When Quart turns a view's
exception into a 500, the exception is only visible to the
``got_request_exception`` signal: it is recorded in the render's scope marker
so the error can name its type.
"""

from __future__ import annotations

from typing import Any

from quart import Quart, got_request_exception, request

from .asgi_render import RENDER_KEY, is_render_scope

__all__ = ["install", "is_render"]


def _marker() -> dict[str, Any] | None:
    marker = (request.scope.get("extensions") or {}).get(RENDER_KEY)
    return marker if isinstance(marker, dict) else None


def is_render() -> bool:
    """Whether the request being handled is one of our in-process renders."""
    return is_render_scope(request.scope)


async def _record_exception(sender: Quart, exception: BaseException, **_: Any) -> None:
    marker = _marker()
    if marker is not None:
        marker["exception"] = exception


def install(app: Quart) -> None:
    """Register the hook that lets renders of ``app`` name the exception of a 500."""
    got_request_exception.connect(_record_exception, app, weak=False)
