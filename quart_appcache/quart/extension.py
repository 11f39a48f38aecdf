"""The Quart adapter: config, routes, startup, cache headers, template globals, CLI.

``Appcache(app)`` or ``Appcache()`` plus ``init_app(app)``. One extension
object may serve several apps (app factories, test suites); each app keeps its
own declarations, version and finalized state in a :class:`~quart_appcache.site.Site`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Callable
from typing import Any

from quart import Quart, Response, current_app, has_app_context, has_request_context, request
from werkzeug.exceptions import HTTPException

from ..api import AppcacheBase
from ..artifacts import BY_NAME
from ..clash import check_unrouted
from ..errors import ConfigError, NotInitializedError
from ..idempotency import IdempotencyMiddleware
from ..render import template_globals
from ..serving import Reply, answer, not_found
from ..settings import Settings
from ..site import Site
from ..tracked import cache_control_for_tracked, request_key
from ..urls import url_prefix
from .cli import cli_group
from .host import QuartHost, install_render_hooks, is_render

__all__ = ["Appcache", "get_appcache"]


EXTENSION_KEY = "appcache"
# Our endpoints are "appcache." and the artifact's name in the registry.
OUR_ENDPOINTS = "appcache."


class Appcache(AppcacheBase[Quart]):
    """Offline bundle for a Quart app: AppCache manifest, precache JSON, service worker.

    Args:
        app: the app to initialise now; leave out and call :meth:`init_app`
            later for app factories.
    """

    def __init__(self, app: Quart | None = None) -> None:
        super().__init__()
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
        settings = Settings.from_config(
            app.config,
            default_build_dir=os.path.join(app.instance_path, "appcache"),
            default_queue_store="sqlite:///"
            + os.path.join(app.instance_path, "appcache-queue.sqlite3"),
        )
        site = Site(QuartHost(app, settings), settings)
        view = _view(site)
        # A host_matching app routes by host too: ours answer on every host.
        host = "<appcache_host>" if app.url_map.host_matching else None
        for endpoint, rule in _rules(site).items():
            app.add_url_rule(rule, endpoint, view, methods=["GET"], host=host)
        check_unrouted(site, _route_for(app))
        install_render_hooks(app)
        app.before_serving(_startup_hook(site))
        app.after_serving(site.on_shutdown)
        if site.writes is not None:
            app.asgi_app = IdempotencyMiddleware(app.asgi_app, site.writes)  # type: ignore[method-assign,assignment,arg-type]
        app.after_request(_cache_header_hook(site))
        for name, function in template_globals(lambda _: site, lambda _: _prefix()).items():
            app.add_template_global(function, name)
        app.cli.add_command(cli_group(site))
        app.extensions[EXTENSION_KEY] = self
        self._register(app, site)

    def add_static(self) -> None:
        """Track the app's static folder under its ``static_url_path``, and each
        registered blueprint's static folder under its URL.

        The URLs are read from the app's own static routes, so a blueprint's
        ``url_prefix`` and ``static_url_path`` count, as ``add_folder`` would
        add them.

        Raises:
            ConfigError: neither the app nor a registered blueprint has a
                static folder.
            FinalizedError: the bundle is finalized.
        """
        site = self._site()
        site.check_open("add_static()")
        app = self._app()
        folders = [(app.static_folder, "static")]
        folders += [
            (blueprint.static_folder, f"{name}.static")
            for name, blueprint in app.blueprints.items()
        ]
        rules = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}
        found = [
            (folder, rules[endpoint].rsplit("<", 1)[0])
            for folder, endpoint in folders
            if folder is not None and endpoint in rules and os.path.isdir(folder)
        ]
        if not found:
            raise ConfigError(
                f"add_static(): the app {app.name!r} has no static folder, nor has any "
                "registered blueprint. Create the app's 'static' folder (or pass "
                "static_folder=...), or track a folder with add_folder()."
            )
        for folder, base in found:
            site.bundle.declarations.add_folder(folder, base)

    def _current_app(self) -> Quart | None:
        if has_app_context():
            app: Quart = current_app._get_current_object()  # type: ignore[attr-defined]
            return app
        return None

    def _app_name(self, app: Quart) -> str:
        return repr(app.name)


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


def _rules(site: Site) -> dict[str, str]:
    """Our URL rules, by endpoint: one per artifact (the icons share one rule)."""
    rules: dict[str, str] = {}
    for served in site.served:
        spec = BY_NAME[served.name]
        rule = served.value + "<appcache_icon>" if spec.folder else served.url
        rules[OUR_ENDPOINTS + served.name] = rule
    return rules


def _route_for(app: Quart) -> Callable[[str], str | None]:
    """Which of the app's own routes takes a GET of a path (for the clash check)."""

    def route_for(path: str) -> str | None:
        for rule in app.url_map.iter_rules():
            if rule.rule == path and not rule.endpoint.startswith(OUR_ENDPOINTS):
                return str(rule.endpoint)
        # Ours are registered: a route the map prefers to ours would hide it.
        try:
            endpoint: str = app.url_map.bind("localhost").match(path, method="GET")[0]
        except HTTPException:
            return None
        return None if endpoint.startswith(OUR_ENDPOINTS) else endpoint

    return route_for


def _prefix() -> str:
    """The URL prefix (ASGI ``root_path``) of the request being handled, if any."""
    return url_prefix(request.root_path) if has_request_context() else ""


def _response(app: Quart, reply: Reply) -> Response:
    headers = dict(reply.headers)
    if reply.body or reply.status != 200:
        # Quart sets Content-Length from the body itself.
        headers.pop("Content-Length", None)
        return app.response_class(reply.body, status=reply.status, headers=headers)
    response = app.response_class(b"", status=200, headers=headers)
    response.headers["Content-Length"] = headers["Content-Length"]  # HEAD: GET's length
    return response


def _view(site: Site) -> Any:
    async def appcache_artifact(**_parts: str) -> Response:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        reply = await answer(
            site,
            request.path,
            method=request.method,
            root_path=request.root_path,
            if_none_match=request.headers.get("If-None-Match"),
            accept_encoding=request.headers.get("Accept-Encoding"),
        )
        return _response(app, reply or not_found())

    return appcache_artifact


def _startup_hook(site: Site) -> Any:
    spent: list[AsyncGenerator[None, None]] = []

    async def schedule_finalize() -> None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        check_unrouted(site, _route_for(app))  # routes added after init_app

        # Quart runs every before_serving hook, then every while_serving
        # generator. Adding ours now puts it after all of the app's own
        # startup code, so views that need a database opened there work.
        async def started() -> AsyncGenerator[None, None]:
            await site.on_startup()
            yield

        for gen in spent:  # started before: drop the spent generator
            if gen in app.while_serving_gens:
                app.while_serving_gens.remove(gen)
        app.while_serving(started)
        spent[:] = [app.while_serving_gens[-1]]

    return schedule_finalize


def _cache_header_hook(site: Site) -> Any:
    async def set_cache_headers(response: Response) -> Response:
        if request.method not in ("GET", "HEAD") or is_render():
            return response
        tracked = await site.matcher()
        if tracked is not None and request_key(request.path, request.query_string) in tracked:
            debug = current_app.debug
            response.headers["Cache-Control"] = cache_control_for_tracked(
                response.headers.get("Cache-Control"), debug=debug
            )
            response.headers.pop("Expires", None)
        return response

    return set_cache_headers
