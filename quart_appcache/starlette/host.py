"""A Starlette or FastAPI app as the core's :class:`~quart_appcache.host.Host`.

It holds the app weakly, and the lifespan state the app's startup yielded,
which every in-process render gets a copy of.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import jinja2
from starlette.applications import Starlette

from ..errors import AppcacheError
from ..host import AppHost
from ..route_map import Route
from ..settings import Settings
from .routes import routes_of

__all__ = ["LifespanError", "StarletteHost", "app_name"]


class LifespanError(AppcacheError):
    """The app's own lifespan failed to start (seen by the CLI)."""


def app_name(app: Starlette) -> str:
    """A name for messages: a FastAPI app's title, else the class name."""
    title = getattr(app, "title", None)
    return title if isinstance(title, str) and title else type(app).__name__


class StarletteHost(AppHost[Starlette]):
    """One Starlette app, seen from the core.

    Args:
        app: the app.
        settings: its checked settings.
        base_dir: the folder relative ``add_folder`` paths and build folders
            resolve against.
        debug: debug mode, or ``None`` to read ``app.debug`` when asked.
        templates: returns the user's Jinja environment, if any.
    """

    def __init__(
        self,
        app: Starlette,
        settings: Settings,
        base_dir: str,
        debug: bool | None,
        templates: Callable[[], jinja2.Environment | None],
    ) -> None:
        super().__init__(app, app_name(app), base_dir, settings)
        self._debug = debug
        self._templates = templates

    @property
    def debug(self) -> bool:
        """The ``debug`` setting, or ``app.debug`` when it was left out."""
        return bool(self.app.debug) if self._debug is None else self._debug

    def templates(self) -> jinja2.Environment | None:
        """The environment of the ``Jinja2Templates`` given, if any."""
        return self._templates()

    def template_scope(self) -> AbstractAsyncContextManager[object]:
        """Nothing: Starlette templates need no context around them."""
        return contextlib.nullcontext()

    def lifespan(self) -> AbstractAsyncContextManager[object]:
        """Run the app's ASGI lifespan: startup on entry, shutdown on exit."""
        return _lifespan(self.app)

    def routes(self) -> list[Route]:
        """The app's route map (:func:`~quart_appcache.starlette.routes.routes_of`)."""
        return routes_of(self.app)


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[object]:
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send(message: MutableMapping[str, Any]) -> None:
        await from_app.put(dict(message))

    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    task = asyncio.create_task(app(scope, to_app.get, send))

    async def reply() -> dict[str, Any]:
        # The app may also return (or crash) without answering.
        getter = asyncio.ensure_future(from_app.get())
        await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        getter.cancel()
        error = task.exception()
        detail = f"{type(error).__name__}: {error}" if error else "it returned"
        return {"type": "lifespan.startup.failed", "message": detail}

    await to_app.put({"type": "lifespan.startup"})
    started = await reply()
    if started["type"] != "lifespan.startup.complete":
        with contextlib.suppress(BaseException):
            await task
        raise LifespanError(f"The app's startup failed: {_summary(started)}")
    try:
        yield app
    except BaseException:
        await to_app.put({"type": "lifespan.shutdown"})
        await reply()
        with contextlib.suppress(BaseException):
            await task
        raise
    await to_app.put({"type": "lifespan.shutdown"})
    stopped = await reply()
    with contextlib.suppress(BaseException):
        await task
    if stopped["type"] != "lifespan.shutdown.complete":
        raise LifespanError(f"The app's shutdown failed: {_summary(stopped)}")


def _summary(message: Mapping[str, Any]) -> str:
    # Starlette reports a whole traceback; its last line names the error.
    lines = [line for line in str(message.get("message", "")).splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no reason given"
