"""The Starlette and FastAPI adapter: settings, middleware, template globals, declarations.

``Appcache(app, templates=templates, fallback={"/": "/offline"})``, or
``Appcache(**settings)`` plus ``init_app(app)``. Settings are keyword
arguments named after the Quart adapter's ``APPCACHE_*`` keys, lower case
without the prefix, checked here with the same rules and defaults.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.templating import Jinja2Templates

from ..api import AppcacheBase
from ..clash import check_unrouted
from ..errors import ConfigError, NotInitializedError
from ..extension_files import ExtensionFiles
from ..render import template_globals
from ..settings import DEFAULTS, FIELDS, KeyNames, Settings
from ..site import Site
from ..urls import url_prefix
from .host import StarletteHost, app_name
from .middleware import AppcacheMiddleware
from .routes import find_static, route_for

__all__ = ["Appcache", "get_appcache"]

STATE_KEY = "appcache"
BUILD_COMMAND = "python -m quart_appcache.starlette build APP"


def _keyword(key: str) -> str:
    return f"Appcache({key.removeprefix('APPCACHE_').lower()}=...)"


NAMES = KeyNames(name=_keyword, build_command=BUILD_COMMAND)


class Appcache(AppcacheBase[Starlette]):
    """Offline bundle for a Starlette or FastAPI app.

    Args:
        app: the app to initialise now; leave out and call :meth:`init_app`
            later (app factories).
        templates: a ``Jinja2Templates`` whose environment gets the
            ``appcache_manifest_url()`` and ``appcache_sw_script()`` globals,
            and whose templates win over the packaged manifest and worker.
        url, template, url_base, fallback, fallback_exclude, network, finalize, fetch_timeout,
        precache_url, sw_url, sw_template, sw_update, sw_client_url, sw_prompt,
        sw_update_interval, sw_verify, sw_unregister, sw_ignored_params,
        hashed_names, runtime, queue, queue_store, queue_max_answer, web_manifest,
        web_manifest_url, icon, icons_url, build_dir, max_entry_bytes, build_check: the
            settings of the ``APPCACHE_*`` keys of the same name (see
            ``docs/configuration.md``); ``build_dir=None`` reads no build at
            startup. ``hash_helper`` is deprecated and ignored;
            ``sw_skip_waiting`` is deprecated (``sw_update="immediate"``).
        debug: debug mode (stay live, never finalize at startup); default
            ``app.debug``, read at startup.
        base_dir: what relative folders (``add_folder``, ``build_dir``)
            resolve against; default the working directory, as
            ``StaticFiles`` does.

    Raises:
        ConfigError: a setting holds a bad value; the message names the keyword.
    """

    def __init__(
        self,
        app: Starlette | None = None,
        *,
        templates: Jinja2Templates | None = None,
        url: str = DEFAULTS["APPCACHE_URL"],
        template: str = DEFAULTS["APPCACHE_TEMPLATE"],
        url_base: str = DEFAULTS["APPCACHE_URL_BASE"],
        fallback: Mapping[str, str] | None = None,
        fallback_exclude: Sequence[str | re.Pattern[str]] = (),
        network: Sequence[str] = ("*",),
        finalize: bool | None = None,
        fetch_timeout: float = DEFAULTS["APPCACHE_FETCH_TIMEOUT"],
        precache_url: str | None = DEFAULTS["APPCACHE_PRECACHE_URL"],
        sw_url: str | None = DEFAULTS["APPCACHE_SW_URL"],
        sw_template: str = DEFAULTS["APPCACHE_SW_TEMPLATE"],
        sw_update: str = DEFAULTS["APPCACHE_SW_UPDATE"],
        sw_skip_waiting: bool | None = None,
        sw_client_url: str | None = DEFAULTS["APPCACHE_SW_CLIENT_URL"],
        sw_prompt: bool | Mapping[str, str] = False,
        sw_update_interval: float | None = DEFAULTS["APPCACHE_SW_UPDATE_INTERVAL"],
        sw_verify: str = DEFAULTS["APPCACHE_SW_VERIFY"],
        sw_unregister: bool = False,
        sw_ignored_params: Sequence[str] = tuple(DEFAULTS["APPCACHE_SW_IGNORED_PARAMS"]),
        hashed_names: str | re.Pattern[str] | None = DEFAULTS["APPCACHE_HASHED_NAMES"],
        runtime: Sequence[Mapping[str, Any]] = (),
        queue: Sequence[Mapping[str, Any]] = (),
        queue_store: str | None = None,
        queue_max_answer: int | None = DEFAULTS["APPCACHE_QUEUE_MAX_ANSWER"],
        web_manifest: Mapping[str, Any] | None = None,
        web_manifest_url: str = DEFAULTS["APPCACHE_WEB_MANIFEST_URL"],
        icon: str | os.PathLike[str] | None = None,
        icons_url: str = DEFAULTS["APPCACHE_ICONS_URL"],
        build_dir: str | os.PathLike[str] | None = None,
        max_entry_bytes: int | None = DEFAULTS["APPCACHE_MAX_ENTRY_BYTES"],
        build_check: str = DEFAULTS["APPCACHE_BUILD_CHECK"],
        hash_helper: bool | None = None,
        debug: bool | None = None,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        given = dict(locals())
        # The keywords are the settings table's (a test holds the two together).
        config = {item.key: _plain(given[item.keyword], item.default) for item in FIELDS}
        if hash_helper is not None:  # deprecated: warned about, then ignored
            config["APPCACHE_HASH_HELPER"] = hash_helper
        if sw_skip_waiting is not None:  # deprecated: warned about, then read as sw_update
            config["APPCACHE_SW_SKIP_WAITING"] = sw_skip_waiting
            if sw_update == DEFAULTS["APPCACHE_SW_UPDATE"]:
                del config["APPCACHE_SW_UPDATE"]
        if debug is not None and not isinstance(debug, bool):
            raise ConfigError(f"Appcache(debug=...) is {debug!r}; give True, False or None.")
        if base_dir is not None and not isinstance(base_dir, str | os.PathLike):
            raise ConfigError(
                f"Appcache(base_dir=...) is {base_dir!r}; give a folder path or None."
            )
        self.settings = Settings.from_config(config, default_build_dir=None, names=NAMES)
        self._debug = debug
        self._base_dir = os.path.abspath(os.fspath(base_dir) if base_dir is not None else ".")
        # The icon source is checked here, where the mistake is made.
        self._own = ExtensionFiles(self.settings, self._base_dir)
        super().__init__()
        self._templates: Jinja2Templates | None = None
        if templates is not None:
            self.init_templates(templates)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Starlette) -> None:
        """Add the middleware that serves the bundle, and store this on ``app.state.appcache``.

        Raises:
            ConfigError: the app already has an Appcache, has started
                serving, or routes one of the extension's URLs.
        """
        if getattr(app.state, STATE_KEY, None) is not None:
            raise ConfigError(
                f"The app {app_name(app)!r} already has an Appcache; call init_app() once per app."
            )
        host = StarletteHost(app, self.settings, self._base_dir, self._debug, self._environment)
        site = Site(host, self.settings, self._own)
        check_unrouted(site, route_for(app))
        try:
            app.add_middleware(AppcacheMiddleware, site=site, host=host)
        except RuntimeError as error:
            raise ConfigError(
                f"Cannot add Appcache to {app_name(app)!r}: {error}. Call Appcache(app) or "
                "init_app(app) where the app is created, before it serves."
            ) from None
        setattr(app.state, STATE_KEY, self)
        self._register(app, site)

    def init_templates(self, templates: Jinja2Templates) -> None:
        """Add the template globals to ``templates`` and look up user templates there first."""
        if not isinstance(templates, Jinja2Templates):
            raise ConfigError(
                f"Appcache(templates=...) is {templates!r}; give a starlette.templating."
                "Jinja2Templates (FastAPI's fastapi.templating.Jinja2Templates is the same)."
            )
        self._templates = templates

        templates.env.globals.update(template_globals(self._site_of, _prefix))

    def _site_of(self, context: jinja2.runtime.Context) -> Site:
        # The app of the request being rendered, else the app most recently initialised.
        app = getattr(context.get("request"), "app", None)
        site = self._sites.get(app) if isinstance(app, Starlette) else None
        return site if site is not None else self._site()

    def _environment(self) -> jinja2.Environment | None:
        return self._templates.env if self._templates is not None else None

    # -- declarations -----------------------------------------------------

    def add_static(self, name: str = "static") -> None:
        """Track every file of the ``StaticFiles`` mounted under the route name ``name``.

        Each of its directories is added in lookup order under the mount's
        path, so a file found in two of them is listed once, as served.

        Raises:
            ConfigError: no ``StaticFiles`` is mounted under that name.
            FinalizedError: the bundle is finalized.
        """
        site = self._site()
        site.check_open("add_static()")
        mount = find_static(self._app(), name)
        for directory in mount.directories:
            site.bundle.declarations.add_folder(
                directory, mount.path, follow_symlinks=mount.follow_symlink
            )

    # -- plumbing -----------------------------------------------------------

    def _app_name(self, app: Starlette) -> str:
        return repr(app_name(app))


def get_appcache(app: Starlette) -> Appcache:
    """The :class:`Appcache` on ``app.state.appcache``.

    Raises:
        NotInitializedError: the app has no Appcache.
    """
    extension = getattr(app.state, STATE_KEY, None)
    if not isinstance(extension, Appcache):
        raise NotInitializedError(
            f"The app {app_name(app)!r} has no Appcache; call Appcache(app) or "
            "appcache.init_app(app) where the app is created."
        )
    return extension


def _prefix(context: jinja2.runtime.Context) -> str:
    request = context.get("request")
    scope = getattr(request, "scope", None)
    return url_prefix(scope.get("root_path", "")) if isinstance(scope, Mapping) else ""


def _plain(value: object, default: object) -> object:
    """A keyword's value as the settings table takes it: tuples (the immutable
    defaults of list settings) as lists, ``None`` for a mapping as empty."""
    if isinstance(value, tuple) and isinstance(default, list):
        return list(value)
    if value is None and isinstance(default, dict):
        return {}
    return value
