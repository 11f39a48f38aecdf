"""The Quart extension: config, routes, startup, cache headers.

``Appcache(app)`` or ``Appcache()`` plus ``init_app(app)``. One extension
object may serve several apps (app factories, test suites); each app keeps its
own declarations, version and finalized state in a :class:`~.site.Site`.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import AsyncGenerator
from functools import partial
from typing import Any

from quart import Quart, Response, current_app, has_app_context, request
from werkzeug.exceptions import HTTPException

from .cli import appcache_cli
from .config import Settings
from .errors import AppcacheError, ConfigError, NotInitializedError
from .inprocess import install as install_renderer_hooks
from .render import sw_registration
from .site import URL_KEYS, ArtifactName, Site

__all__ = ["Appcache", "get_appcache"]

logger = logging.getLogger("quart_appcache")

EXTENSION_KEY = "appcache"
ENDPOINTS: dict[ArtifactName, str] = {
    "manifest": "appcache.manifest",
    "precache": "appcache.precache",
    "sw": "appcache.service_worker",
}


class Appcache:
    """Offline bundle for a Quart app: AppCache manifest, precache JSON, service worker.

    Args:
        app: the app to initialise now; leave out and call :meth:`init_app`
            later for app factories.
    """

    def __init__(self, app: Quart | None = None) -> None:
        self._sites: weakref.WeakKeyDictionary[Quart, Site] = weakref.WeakKeyDictionary()
        self._last: weakref.ref[Quart] | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Quart) -> None:
        """Register the extension on ``app``.

        Reads and checks every ``APPCACHE_*`` config key (set them before
        calling this), registers the manifest, precache and service-worker
        routes, the startup hook that finalizes, the cache-header hook and the
        ``appcache`` CLI group, and stores the extension in
        ``app.extensions["appcache"]``.

        Raises:
            ConfigError: a config key is invalid, one of the extension's URLs
                is already routed, or the app was initialised before.
        """
        if EXTENSION_KEY in app.extensions:
            raise ConfigError(
                f"The app {app.name!r} already has an Appcache; call init_app() once per app."
            )
        settings = Settings.from_config(app.config, app.instance_path)
        site = Site(app, settings)
        for name, url in site.urls.items():
            _check_unrouted(app, url, name, ours_added=False)
            app.add_url_rule(
                url,
                ENDPOINTS[name],
                _artifact_view(site, name),
                methods=["GET"],
            )
        install_renderer_hooks(app)
        app.before_serving(_startup_hook(site))
        app.after_request(_cache_header_hook(site))
        app.add_template_global(partial(str, settings.url), "appcache_manifest_url")
        app.add_template_global(partial(sw_registration, settings.sw_url), "appcache_sw_script")
        app.cli.add_command(appcache_cli(site))
        app.extensions[EXTENSION_KEY] = self
        self._sites[app] = site
        self._last = weakref.ref(app)

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
        site.bundle.check_open("add_urls()")
        site.bundle.declarations.add_urls(urls)

    def add_folder(
        self,
        folder: str | os.PathLike[str],
        base: str = "/static",
        *,
        include_hidden: bool = False,
    ) -> None:
        """Track every file under ``folder``, served under the URL ``base``.

        Files are read from disk, never fetched through the app. File names
        become percent-encoded URLs. The folder is listed again on every
        computation, so in debug mode new and deleted files show up at once.

        Args:
            folder: the folder; a relative path resolves against the app's
                ``root_path``, not the working directory.
            base: the URL the folder is served under.
            include_hidden: also track dot-files and dot-folders.

        Raises:
            FolderNotFoundError: (a ``FileNotFoundError``) ``folder`` is missing.
            NotAFolderError: (a ``NotADirectoryError``) ``folder`` is a file.
            FinalizedError: (a ``RuntimeError``) the bundle is finalized.
        """
        site = self._site()
        site.bundle.check_open("add_folder()")
        site.bundle.declarations.add_folder(folder, base, include_hidden)

    def add_excluded_urls(self, *urls: str) -> None:
        """Exclude every tracked URL that starts with one of these prefixes.

        Exclusions apply to all URLs, including those added before.

        Raises:
            InvalidURLError: a prefix is not a path on this app.
            FinalizedError: the bundle is finalized.
        """
        site = self._site()
        site.bundle.check_open("add_excluded_urls()")
        site.bundle.declarations.add_excluded(urls)

    @property
    def urls(self) -> tuple[str, ...]:
        """The tracked URLs, in declaration order, duplicates collapsed.

        Before finalizing, folders are listed anew on every access.
        """
        return tuple(self._site().bundle.urls())

    # -- computing ----------------------------------------------------------

    async def hash(self) -> tuple[str, str]:
        """The version of the bundle and when this process first saw it.

        Computes now unless finalized. The version is a hex digest that
        depends only on the tracked URLs and their content.

        Returns:
            ``(version, updated)``; ``updated`` is an ISO 8601 UTC time.

        Raises:
            FetchError: a tracked view did not answer 200.
            FileReadError: a tracked file could not be read.
        """
        snapshot = await self._site().snapshot()
        return snapshot.version, snapshot.updated

    async def entries(self) -> list[tuple[str, str]]:
        """The ordered ``(url, revision)`` pairs of the bundle."""
        snapshot = await self._site().snapshot()
        return [(item.url, item.revision) for item in snapshot.revisions]

    async def finalize(self) -> None:
        """Compute once and freeze.

        Later ``hash()`` calls never recompute and declarations raise
        ``FinalizedError``. Calling it again does nothing. Runs by itself at
        startup when ``APPCACHE_FINALIZE`` says so.

        Raises:
            FetchError, FileReadError, TemplateError: the bundle cannot be
                computed or rendered; nothing is frozen.
        """
        await self._site().finalize()

    # -- plumbing -----------------------------------------------------------

    def site(self, app: Quart | None = None) -> Site:
        """The per-app state for ``app`` (default: see :meth:`_site`)."""
        if app is None:
            return self._site()
        site = self._sites.get(app)
        if site is None:
            raise NotInitializedError(
                f"The app {app.name!r} has no Appcache; call appcache.init_app(app) first."
            )
        return site

    def _site(self) -> Site:
        # The app of the active app context wins; otherwise the app most
        # recently initialised, which is what `init_app(app)` followed by
        # `add_urls(...)` inside an app factory means.
        if has_app_context():
            site = self._sites.get(current_app._get_current_object())  # type: ignore[attr-defined]
            if site is not None:
                return site
        app = self._last() if self._last is not None else None
        if app is None:
            raise NotInitializedError(
                "This Appcache has no app yet; call Appcache(app) or appcache.init_app(app) "
                "before declaring URLs."
            )
        return self._sites[app]


def get_appcache(app: Quart | None = None) -> Appcache:
    """The :class:`Appcache` registered on ``app`` (default: the current app).

    Raises:
        NotInitializedError: the app has no Appcache.
    """
    target = app if app is not None else current_app
    extension = target.extensions.get(EXTENSION_KEY)
    if not isinstance(extension, Appcache):
        raise NotInitializedError(
            f"The app {target.name!r} has no Appcache; call Appcache(app) or "
            "appcache.init_app(app) in the app factory."
        )
    return extension


def _check_unrouted(app: Quart, url: str, name: ArtifactName, *, ours_added: bool) -> None:
    """Refuse any route but ours on ``url``.

    Runs at init_app, and again at startup (``ours_added``) for routes added
    later: one on the same URL would never be reached, or would hide ours.
    """
    clash = next(
        (
            r.endpoint
            for r in app.url_map.iter_rules()
            if r.rule == url and r.endpoint != ENDPOINTS[name]
        ),
        None,
    )
    if clash is None and ours_added:
        try:
            endpoint, _ = app.url_map.bind("localhost").match(url, method="GET")
        except HTTPException as error:
            endpoint = f"<{type(error).__name__}>"
        clash = None if endpoint == ENDPOINTS[name] else endpoint
    if clash is not None:
        key = URL_KEYS[name]
        raise ConfigError(
            f"{key} is {url!r}, but the app also routes it to {clash!r}. "
            f"Remove that route or choose another {key}."
        )


def _artifact_view(site: Site, name: ArtifactName) -> Any:
    extra = {"Service-Worker-Allowed": "/"} if name == "sw" else {}

    async def view() -> Response:
        try:
            artifact = await site.artifact(name)
        except AppcacheError as error:
            logger.error("quart_appcache cannot serve %s: %s", request.path, error)
            # A 500 makes browsers keep the cache they have.
            message = str(error) if site.app.debug else "The offline bundle is unavailable."
            return site.app.response_class(message, status=500, mimetype="text/plain")
        headers = {"Cache-Control": "no-cache", "ETag": artifact.quoted_etag, **extra}
        if "If-None-Match" in request.headers and request.if_none_match.contains_weak(
            artifact.etag
        ):
            return site.app.response_class(b"", status=304, headers=headers)
        return site.app.response_class(
            artifact.body, content_type=artifact.mimetype, headers=headers
        )

    view.__name__ = ENDPOINTS[name].replace(".", "_")
    return view


def _startup_hook(site: Site) -> Any:
    async def schedule_finalize() -> None:
        app = site.app
        for name, url in site.urls.items():
            _check_unrouted(app, url, name, ours_added=True)
        if site.cli_mode or not site.finalize_at_startup:
            return

        # Quart runs every before_serving hook, then every while_serving
        # generator. Appending ours now puts it after all of the app's own
        # startup code, so views that need a database opened there work.
        async def finalize_while_serving() -> AsyncGenerator[None, None]:
            await site.start()
            yield

        if site.startup_gen in app.while_serving_gens:  # started before: drop the spent one
            app.while_serving_gens.remove(site.startup_gen)
        site.startup_gen = finalize_while_serving()
        app.while_serving_gens.append(site.startup_gen)

    return schedule_finalize


def _cache_header_hook(site: Site) -> Any:
    async def set_cache_headers(response: Response) -> Response:
        path = request.path
        if request.query_string:
            path = f"{path}?{request.query_string.decode('latin-1')}"
        if site.bundle.declarations.tracks(path):
            # A tracked URL must never be served stale from an HTTP cache
            # (Quart's static files default to max-age=43200), or clients
            # would cache old content under a new version.
            if site.app.debug:
                response.cache_control.no_cache = True
                response.cache_control.max_age = None
            else:
                response.cache_control.max_age = 0
                response.cache_control.must_revalidate = True
            response.headers.pop("Expires", None)
        return response

    return set_cache_headers
