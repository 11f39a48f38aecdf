"""The host interface: what the framework-free core needs from a web framework.

Each adapter (Quart in :mod:`quart_appcache.quart`, Starlette and FastAPI
in :mod:`quart_appcache.starlette`) implements it for one app. The core asks
it for the app's folder, its debug flag, its templates, its route map and
in-process renders of a URL, and nothing else; serving, headers and startup hooks stay in
the adapter, which calls :meth:`~quart_appcache.site.Site.started` once the
app's own startup has run.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, Protocol, TypeVar

import jinja2

from .asgi_render import AsgiRenderer
from .errors import NotInitializedError
from .route_map import Probe, Route
from .settings import Settings

__all__ = ["AppHost", "Host"]

AppT = TypeVar("AppT")


class Host(Protocol):
    """One app, seen from the core."""

    @property
    def name(self) -> str:
        """The app's name, for messages."""

    @property
    def root_path(self) -> str:
        """The folder relative ``add_folder`` paths and build folders resolve against."""

    @property
    def debug(self) -> bool:
        """Whether the app runs in debug mode now (read at startup, not at init)."""

    def templates(self) -> jinja2.Environment | None:
        """The app's Jinja environment, whose templates win over the packaged ones."""

    def template_scope(self) -> AbstractAsyncContextManager[object]:
        """What rendering one of the app's templates needs around it (an app context)."""

    async def render(self, url: str) -> bytes:
        """Render ``url`` in-process through the app and return the body.

        Raises:
            FetchError: the app did not answer ``200 OK`` in time.
        """

    async def probe(self, url: str) -> Probe:
        """Render ``url`` and tell whether it is a page to precache (``add_routes()``)."""

    def routes(self) -> list[Route]:
        """The app's route map, read now (routes added after ``init_app`` count)."""

    def lifespan(self) -> AbstractAsyncContextManager[object]:
        """Run the app's own startup on entry and its shutdown on exit (for the CLI)."""


class AppHost(Generic[AppT]):
    """What both adapters' hosts share: the app, held weakly, its name and
    folder, and in-process renders (:mod:`.asgi_render`).

    Args:
        app: the app (an ASGI app).
        name: its name, for messages.
        root_path: what relative folders resolve against.
        settings: its checked settings (the renders' base URL and timeout).
    """

    # The lifespan state renders get a copy of (Starlette; Quart has none).
    state: Mapping[str, Any] | None = None

    def __init__(self, app: AppT, name: str, root_path: str, settings: Settings) -> None:
        self._app = weakref.ref(app)
        self._name = name
        self._root_path = root_path
        self._settings = settings

    @property
    def app(self) -> AppT:
        """The app; it must still be alive."""
        app = self._app()
        if app is None:
            raise NotInitializedError(
                f"The app {self._name!r} was garbage-collected; keep a reference to it "
                "while it serves."
            )
        return app

    @property
    def name(self) -> str:
        """The app's name."""
        return self._name

    @property
    def root_path(self) -> str:
        """What relative ``add_folder`` paths and build folders resolve against."""
        return self._root_path

    async def render(self, url: str) -> bytes:
        """Render ``url`` in-process through the app."""
        return await self._renderer()(url)

    async def probe(self, url: str) -> Probe:
        """Render ``url`` and tell whether it is a page to precache."""
        return await self._renderer().probe(url)

    def _renderer(self) -> AsgiRenderer:
        settings = self._settings
        return AsgiRenderer(
            self.app,
            settings.url_base,
            settings.fetch_timeout,
            settings.names.name("APPCACHE_FETCH_TIMEOUT"),
            self.state,
        )
