"""The host interface: what the framework-free core needs from a web framework.

Each adapter (Quart in :mod:`quart_appcache.extension`, Starlette and FastAPI
in :mod:`quart_appcache.starlette`) implements it for one app. The core asks
it for the app's folder, its debug flag, its templates and an in-process
render of a URL, and nothing else; routes, headers and startup hooks stay in
the adapter, which calls :meth:`~quart_appcache.site.Site.started` once the
app's own startup has run.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

import jinja2

__all__ = ["Host"]


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

    def lifespan(self) -> AbstractAsyncContextManager[object]:
        """Run the app's own startup on entry and its shutdown on exit (for the CLI)."""
