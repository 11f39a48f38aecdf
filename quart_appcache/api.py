"""The public API both adapters share: declarations, ``hash()``, ``entries()``, ``finalize()``.

Each adapter's ``Appcache`` subclasses :class:`AppcacheBase`, adds its
``init_app`` and what is particular to its framework (Starlette's
``add_static``), and says which app is the current one. One extension object
may serve several apps; it holds them weakly, so an app nobody references is
freed. No framework imports.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterable
from typing import Generic, TypeVar

from .errors import NotInitializedError
from .site import Site

__all__ = ["AppcacheBase"]

AppT = TypeVar("AppT")


class AppcacheBase(Generic[AppT]):
    """What every adapter's ``Appcache`` offers, on the per-app :class:`Site`."""

    def __init__(self) -> None:
        self._sites: weakref.WeakKeyDictionary[AppT, Site] = weakref.WeakKeyDictionary()
        self._last: weakref.ref[AppT] | None = None

    def _register(self, app: AppT, site: Site) -> None:
        self._sites[app] = site
        self._last = weakref.ref(app)

    def _current_app(self) -> AppT | None:
        """The app a framework considers current (Quart: the app context), if any."""
        return None

    def _app_name(self, app: AppT) -> str:
        return repr(app)

    # -- declarations -----------------------------------------------------

    def add_urls(self, *urls: str) -> None:
        """Track URLs whose content is rendered in-process through the app.

        Args:
            urls: paths on this app, like ``"/"`` or ``"/offline"``. Non-ASCII
                characters are percent-encoded; a query string is kept.

        Raises:
            InvalidURLError: (a ``ValueError``) a URL is not a path on this app,
                contains whitespace, a control character, ``#`` or dot
                segments, or is one of the extension's own URLs.
            FinalizedError: (a ``RuntimeError``) the bundle is finalized.
        """
        site = self._site()
        site.check_open("add_urls()")
        site.bundle.declarations.add_urls(urls)

    def add_routes(self, *, exclude: Iterable[str] = ()) -> None:
        """Track every page route of the app, found when the bundle is computed.

        A page route answers GET, has no path parameters and answers a page:
        where the framework says what a route returns (FastAPI's
        ``response_class``, an endpoint's return annotation) that decides;
        otherwise the route is rendered and kept when it answers 200 with an
        HTML content type and nothing personal. Routes added after this
        call count; the extension's own URLs, NETWORK paths, excluded URLs
        and static files are never added. What is left out is logged at
        debug level. ``urls`` lists the routes found once the bundle was
        computed (``finalize()``, startup, ``hash()``).

        Args:
            exclude: path prefixes of routes to leave out, like ``["/admin"]``.

        Raises:
            InvalidURLError: a prefix is not a path on this app.
            FinalizedError: the bundle is finalized.
        """
        site = self._site()
        site.check_open("add_routes()")
        site.bundle.declarations.add_routes(exclude)

    def add_folder(
        self,
        folder: str | os.PathLike[str],
        base: str = "/static",
        *,
        include_hidden: bool = False,
        follow_symlinks: bool = False,
    ) -> None:
        """Track every file under ``folder``, served under the URL ``base``.

        Files are read from disk, never fetched through the app. File names
        become percent-encoded URLs. The folder is listed again on every
        computation, so in debug mode new and deleted files show up at once.

        Args:
            folder: the folder; a relative path resolves against the app's
                root path (Quart) or ``base_dir`` (Starlette), not the
                working directory.
            base: the URL the folder is served under.
            include_hidden: also track dot-files and dot-folders.
            follow_symlinks: also follow symbolic links that lead out of the
                folder (skipped with a warning otherwise).

        Raises:
            FolderNotFoundError: (a ``FileNotFoundError``) ``folder`` is missing.
            NotAFolderError: (a ``NotADirectoryError``) ``folder`` is a file.
            FinalizedError: (a ``RuntimeError``) the bundle is finalized.
        """
        site = self._site()
        site.check_open("add_folder()")
        site.bundle.declarations.add_folder(folder, base, include_hidden, follow_symlinks)

    def add_excluded_urls(self, *urls: str) -> None:
        """Exclude every tracked URL that starts with one of these prefixes.

        Exclusions apply to all URLs, including those added before.

        Raises:
            InvalidURLError: a prefix is not a path on this app.
            FinalizedError: the bundle is finalized.
        """
        site = self._site()
        site.check_open("add_excluded_urls()")
        site.bundle.declarations.add_excluded(urls)

    @property
    def urls(self) -> tuple[str, ...]:
        """The tracked URLs, in declaration order, duplicates collapsed.

        Before finalizing, folders are listed anew on every access.
        """
        return tuple(self._site().urls_now())

    # -- computing ----------------------------------------------------------

    async def hash(self) -> tuple[str, str]:
        """The version of the bundle and when this process first saw it.

        Computes now unless finalized. The version is a hex digest that
        depends only on the URLs and content the worker precaches.

        Returns:
            ``(version, updated)``; ``updated`` is an ISO 8601 UTC time, with
            microseconds, strictly later for every new version.

        Raises:
            FetchError: a tracked view did not answer 200.
            FileReadError: a tracked file could not be read.
        """
        snapshot = await self._site().snapshot()
        return snapshot.version, snapshot.updated

    async def entries(self) -> list[tuple[str, str]]:
        """The ordered ``(url, revision)`` pairs of the app's tracked URLs.

        The worker also precaches the extension's own files (the page
        client, the web app manifest and icons); the precache JSON lists them
        after these.
        """
        snapshot = await self._site().snapshot()
        return [(item.url, item.revision) for item in snapshot.app_entries]

    async def finalize(self) -> None:
        """Compute once and freeze.

        Later ``hash()`` calls never recompute and declarations raise
        ``FinalizedError``. Concurrent calls share one computation; calling
        it again does nothing. Runs by itself at startup unless in debug.

        Raises:
            FetchError, FileReadError, TemplateError: the bundle cannot be
                computed or rendered; nothing is frozen.
        """
        await self._site().finalize()

    # -- plumbing -----------------------------------------------------------

    def site(self, app: AppT | None = None) -> Site:
        """The per-app state of ``app`` (default: the current app).

        Raises:
            NotInitializedError: the app has no Appcache.
        """
        if app is None:
            return self._site()
        site = self._sites.get(app)
        if site is None:
            raise NotInitializedError(
                f"The app {self._app_name(app)} has no Appcache; call appcache.init_app(app) first."
            )
        return site

    def _app(self) -> AppT:
        # The framework's current app wins; otherwise the app most recently
        # initialised, which is what `init_app(app)` followed by
        # `add_urls(...)` inside an app factory means.
        current = self._current_app()
        if current is not None and current in self._sites:
            return current
        if self._last is None:
            raise NotInitializedError(
                "This Appcache has no app yet; call Appcache(app) or appcache.init_app(app) "
                "before declaring URLs."
            )
        app = self._last()
        if app is None or app not in self._sites:
            raise NotInitializedError(
                "The app this Appcache was initialised with was garbage-collected; keep a "
                "reference to the app (a module-level `app = ...`) while you use it."
            )
        return app

    def _site(self) -> Site:
        return self._sites[self._app()]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {len(self._sites)} app(s)>"
