"""The Quart app as the core's :class:`~quart_appcache.host.Host`.

It holds the app weakly: an app that is no longer referenced is freed even
while its ``Appcache`` lives on (a module-level extension used by app
factories and test suites). Renders are plain ASGI requests into the app
(:mod:`quart_appcache.asgi_render`); when Quart turns a view's exception into
a 500, the exception is only visible to the ``got_request_exception`` signal,
so :func:`install_render_hooks` records it in the render's scope marker and
the error can name its type.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import jinja2
from quart import Quart, got_request_exception, request

from ..asgi_render import RENDER_KEY, is_render_scope
from ..host import AppHost
from ..route_map import Route
from ..settings import Settings

__all__ = ["QuartHost", "install_render_hooks", "is_render"]


class QuartHost(AppHost[Quart]):
    """One Quart app, seen from the core.

    Args:
        app: the Quart app.
        settings: its checked settings (the renders' base URL and timeout).
    """

    def __init__(self, app: Quart, settings: Settings) -> None:
        super().__init__(app, app.name, app.root_path, settings)

    @property
    def debug(self) -> bool:
        """``app.debug``, read now (``app.run(debug=True)`` sets it after ``init_app``)."""
        return bool(self.app.debug)

    def templates(self) -> jinja2.Environment:
        """``app.jinja_env``: the app's templates win over the packaged ones."""
        return self.app.jinja_env

    def template_scope(self) -> AbstractAsyncContextManager[object]:
        """An app context: app templates may call ``url_for()`` and friends."""
        return _app_context(self.app)

    def lifespan(self) -> AbstractAsyncContextManager[object]:
        """``app.startup()`` on entry, ``app.shutdown()`` on exit."""
        return _lifespan(self.app)

    def routes(self) -> list[Route]:
        """The app's URL rules (blueprints' included). Quart cannot say what a
        view answers, so every page route is ``"unknown"`` (rendered to find out)."""
        app = self.app
        folders = {"static": app.static_folder}
        folders.update({f"{name}.static": bp.static_folder for name, bp in app.blueprints.items()})
        routes = []
        for rule in app.url_map.iter_rules():
            if rule.websocket:
                continue
            folder = folders.get(rule.endpoint)
            routes.append(
                Route(
                    _PARAM.sub(_param, rule.rule),
                    get="GET" in (rule.methods or ()),
                    folders=(os.path.abspath(folder),) if folder else (),
                    name=rule.endpoint,
                )
            )
        return routes


# A werkzeug rule's parameter: <name>, <converter:name>, <converter(args):name>.
_PARAM = re.compile(r"<(?:([A-Za-z_]\w*)(?:\([^)]*\))?:)?([A-Za-z_]\w*)>")


def _param(match: re.Match[str]) -> str:
    # As the core writes parameters: {name}, or {name:path} for the rest of the path.
    return f"{{{match.group(2)}:path}}" if match.group(1) == "path" else f"{{{match.group(2)}}}"


@asynccontextmanager
async def _app_context(app: Quart) -> AsyncIterator[object]:
    async with app.app_context():
        yield app


@asynccontextmanager
async def _lifespan(app: Quart) -> AsyncIterator[object]:
    await _startup(app)
    try:
        yield app
    finally:
        await app.shutdown()


class _Watched:
    """A ``while_serving`` generator that notes whether Quart started it.

    Quart only ever calls ``__anext__`` on these; equality with the
    generator keeps ``gen in app.while_serving_gens`` working meanwhile.
    """

    def __init__(self, gen: AsyncGenerator[None, None]) -> None:
        self.gen = gen
        self.started = False

    def __anext__(self) -> Awaitable[None]:
        self.started = True
        return self.gen.__anext__()

    def __eq__(self, other: object) -> bool:
        return other is self or other is self.gen

    def __hash__(self) -> int:
        return hash(self.gen)


async def _startup(app: Quart) -> None:
    """``app.startup()``, and the shutdown of what started if it fails part of the way.

    Quart itself skips the shutdown then. Its startup runs every
    ``before_serving`` function, then each ``while_serving`` generator up to
    its ``yield``; the shutdown runs the started generators on from there and
    every ``after_serving`` function. Generators that never started are left
    out (running them now would start them).
    """
    every = list(app.while_serving_gens)
    app.while_serving_gens = [_Watched(gen) for gen in every]  # type: ignore[misc]
    try:
        await app.startup()
    except BaseException:
        # (A generator added during the startup, like ours, is taken as unstarted.)
        app.while_serving_gens = [
            gen.gen for gen in app.while_serving_gens if isinstance(gen, _Watched) and gen.started
        ]
        try:
            await app.shutdown()
        finally:
            app.while_serving_gens = every
        raise
    app.while_serving_gens = [
        gen.gen if isinstance(gen, _Watched) else gen for gen in app.while_serving_gens
    ]


def is_render() -> bool:
    """Whether the request being handled is one of our in-process renders."""
    return is_render_scope(request.scope)


async def _record_exception(sender: Quart, exception: BaseException, **_: Any) -> None:
    marker = (request.scope.get("extensions") or {}).get(RENDER_KEY)
    if isinstance(marker, dict):
        marker["exception"] = exception


def install_render_hooks(app: Quart) -> None:
    """Register the hook that lets renders of ``app`` name the exception of a 500."""
    got_request_exception.connect(_record_exception, app, weak=False)
