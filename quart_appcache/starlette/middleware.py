"""The Starlette adapter's one pure ASGI middleware: artifacts, cache headers, startup.

* **Artifacts.** GET and HEAD on the manifest, precache and worker URLs are
  answered here, before routing (ETag, 304, ``no-cache``,
  ``Service-Worker-Allowed``); other methods get 405.
* **Cache headers.** Answers to tracked URLs get the tracked cache headers,
  ``StaticFiles`` answers and their 304s included; every other response's
  headers are left alone.
* **Startup.** The app's ``lifespan.startup.complete`` is held back until the
  bundle is finalized (or the build loaded), so everything the app's
  lifespan opens, FastAPI startup handlers and routers' lifespans included,
  is there for the renders, which get a copy of the lifespan state. If that
  fails, the app's lifespan is shut down (its code after ``yield`` runs) and
  the server is told ``lifespan.startup.failed`` with the reason, so no
  worker ever serves a request.
* **Queued writes.** With ``queue=`` rules, the rest of the stack runs inside
  the core's :class:`~quart_appcache.idempotency.IdempotencyMiddleware`.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..asgi_render import is_render_scope
from ..clash import check_unrouted
from ..idempotency import IdempotencyMiddleware
from ..serving import answer, header, send_reply
from ..site import Site
from ..tracked import cache_control_for_tracked, request_key, route_path
from .host import StarletteHost
from .routes import route_for

__all__ = ["AppcacheMiddleware"]

_REPLACED = (b"cache-control", b"expires")


class AppcacheMiddleware:
    """Serves one app's offline bundle; added by ``Appcache.init_app``.

    Args:
        app: the rest of the middleware stack.
        site: the app's appcache state.
        host: the app as the core sees it.
    """

    def __init__(self, app: ASGIApp, site: Site, host: StarletteHost) -> None:
        # Queued writes (APPCACHE_QUEUE) go through the core's idempotency middleware.
        self.app: ASGIApp = (
            IdempotencyMiddleware(app, site.writes) if site.writes is not None else app
        )
        self.site = site
        self.host = host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if kind != "http" or is_render_scope(scope):
            await self.app(scope, receive, send)
            return
        root_path = scope.get("root_path", "")
        path = route_path(scope["path"], root_path)
        reply = await answer(
            self.site,
            path,
            method=scope["method"],
            root_path=root_path,
            if_none_match=header(scope, b"if-none-match"),
            accept_encoding=header(scope, b"accept-encoding"),
        )
        if reply is not None:
            await send_reply(send, reply)
            return
        if scope["method"] in ("GET", "HEAD"):
            tracked = await self.site.matcher()
            if tracked is not None and request_key(path, scope.get("query_string", b"")) in tracked:
                send = self._tracked_headers(send)
        await self.app(scope, receive, send)

    def _tracked_headers(self, send: Send) -> Send:
        debug = self.host.debug

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                existing = [
                    v.decode("latin-1") for k, v in headers if k.lower() == b"cache-control"
                ]
                kept = [
                    (k, v) for k, v in headers if k.lower() not in (b"cache-control", b"expires")
                ]
                value = cache_control_for_tracked(", ".join(existing) or None, debug=debug)
                message = {**message, "headers": [*kept, (b"cache-control", value.encode())]}
            await send(message)

        return send_with_headers

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state")
        failure: list[str] = []

        async def app_receive() -> Message:
            if failure:  # our startup failed: shut the app's lifespan down
                return {"type": "lifespan.shutdown"}
            return await receive()

        async def app_send(message: Message) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.complete":
                self.host.state = state if isinstance(state, MutableMapping) else None
                try:
                    check_unrouted(self.site, route_for(self.host.app))
                    await self.site.on_startup()
                except Exception as error:
                    # The server prints the reason (uvicorn logs it, hypercorn raises it).
                    failure.append(f"quart_appcache: the app cannot start: {error}")
                    return  # the app now asks for the next message: shutdown
            elif failure and kind.startswith("lifespan.shutdown."):
                message = {"type": "lifespan.startup.failed", "message": failure[0]}
            elif kind.startswith("lifespan.shutdown."):
                await self.site.on_shutdown()
            await send(message)

        await self.app(scope, app_receive, app_send)
