"""One Quart app's appcache: settings, bundle, renderer and rendered artifacts.

The extension object can serve several apps; everything that belongs to one
of them lives here, so nothing leaks between apps.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Literal

import jinja2
from quart import Quart

from .build import check_fresh, has_build, read_build
from .bundle import Bundle, Snapshot
from .collect import Declarations
from .config import Settings
from .digest import Progress
from .inprocess import InProcessRenderer
from .render import (
    load_template,
    manifest_context,
    precache_json,
    render_template,
    sw_context,
)

__all__ = ["Artifact", "ArtifactName", "Site"]

ArtifactName = Literal["manifest", "precache", "sw"]

MIMETYPES: dict[ArtifactName, str] = {
    "manifest": "text/cache-manifest; charset=utf-8",
    "precache": "application/json",
    "sw": "text/javascript; charset=utf-8",
}
URL_KEYS: dict[ArtifactName, str] = {
    "manifest": "APPCACHE_URL",
    "precache": "APPCACHE_PRECACHE_URL",
    "sw": "APPCACHE_SW_URL",
}
TEMPLATE_KEYS: dict[ArtifactName, str] = {
    "manifest": "APPCACHE_TEMPLATE",
    "sw": "APPCACHE_SW_TEMPLATE",
}


@dataclass(frozen=True, slots=True)
class Artifact:
    """A rendered artifact: its bytes, strong ETag and content type."""

    body: bytes
    etag: str
    mimetype: str

    @property
    def quoted_etag(self) -> str:
        """The ``ETag`` header's value."""
        return f'"{self.etag}"'

    @classmethod
    def of(cls, name: ArtifactName, body: bytes) -> Artifact:
        """Tag ``body`` with a digest of its bytes."""
        return cls(body, hashlib.sha256(body).hexdigest()[:32], MIMETYPES[name])


def _reusable(task: asyncio.Task[Artifact]) -> bool:
    if task.get_loop() is not asyncio.get_running_loop():
        return False
    return not task.done() or (not task.cancelled() and task.exception() is None)


class Site:
    """Everything the extension keeps for one app.

    Args:
        app: the Quart app.
        settings: its checked ``APPCACHE_*`` settings.
    """

    def __init__(self, app: Quart, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.bundle = Bundle(
            Declarations(
                app.root_path,
                settings.reserved,
                fallback_targets=list(dict.fromkeys(settings.fallback.values())),
            )
        )
        self.renderer = InProcessRenderer(app, settings.url_base, settings.fetch_timeout)
        self.build_dir = os.path.join(app.root_path, settings.build_dir)
        self.frozen: dict[ArtifactName, Artifact] | None = None
        self.startup_gen: AsyncGenerator[None, None] | None = None
        # Set by the CLI, which computes by itself after the app's startup.
        self.cli_mode = False
        # Debug mode: the last render of each artifact, keyed by what it was
        # rendered from, so an unchanged bundle is not rendered again, and
        # concurrent requests share one render.
        self._recent: dict[ArtifactName, tuple[object, asyncio.Task[Artifact]]] = {}

    @property
    def urls(self) -> dict[ArtifactName, str]:
        """The URL of each artifact this app serves (those not set to ``None``)."""
        urls: dict[ArtifactName, str | None] = {
            "manifest": self.settings.url,
            "precache": self.settings.precache_url,
            "sw": self.settings.sw_url,
        }
        return {name: url for name, url in urls.items() if url is not None}

    @property
    def finalize_at_startup(self) -> bool:
        """``APPCACHE_FINALIZE``, where ``None`` means "unless the app is in debug"."""
        if self.settings.finalize is None:
            return not self.app.debug
        return self.settings.finalize

    async def start(self) -> None:
        """Startup: serve a deploy-time build if there is one, else finalize.

        Debug mode ignores builds. Does nothing for the CLI, which computes
        by itself, when already finalized, or when ``APPCACHE_FINALIZE`` says
        not to.
        """
        if self.cli_mode or self.frozen is not None or not self.finalize_at_startup:
            return  # (frozen: finalize() was already called by hand)
        if not self.app.debug and has_build(self.build_dir):
            await self.load_build()
        else:
            await self.finalize()

    async def snapshot(self) -> Snapshot:
        """The frozen snapshot, or a fresh one computed now."""
        return await self.bundle.current(self.renderer)

    async def artifact(self, name: ArtifactName) -> Artifact:
        """The rendered artifact: frozen bytes, or rendered from a fresh snapshot."""
        if self.frozen is not None:
            return self.frozen[name]
        snapshot = await self.snapshot()
        if self.frozen is not None:  # finalized while we computed
            return self.frozen[name]
        template = self._template(name)
        key = (snapshot, template)
        recent = self._recent.get(name)
        if recent is None or recent[0] != key or not _reusable(recent[1]):
            recent = (key, asyncio.ensure_future(self._artifact(name, snapshot, template)))
            self._recent[name] = recent
        return await asyncio.shield(recent[1])

    async def finalize(self, progress: Progress | None = None) -> Snapshot:
        """Compute strictly, render every artifact, then freeze."""
        if self.frozen is not None and self.bundle.snapshot is not None:
            return self.bundle.snapshot
        snapshot = await self.bundle.compute(self.renderer, final=True, progress=progress)
        rendered = {
            name: await self._artifact(name, snapshot, self._template(name)) for name in self.urls
        }
        self.bundle.freeze(snapshot)
        self.frozen = rendered
        self._recent.clear()
        return snapshot

    async def load_build(self) -> None:
        """Serve the build in ``APPCACHE_BUILD_DIR`` as it is.

        Raises:
            BuildError: the build is unreadable, incomplete or stale.
        """
        build = await read_build(self.build_dir, list(self.urls))
        entries = await self.bundle.collect()
        await asyncio.to_thread(check_fresh, self.build_dir, build, entries)
        self.frozen = {
            name: await asyncio.to_thread(Artifact.of, name, build.artifacts[name])
            for name in self.urls
        }
        self.bundle.freeze(build.snapshot)

    def _template(self, name: ArtifactName) -> jinja2.Template | None:
        if name == "manifest":
            return load_template(self.app.jinja_env, self.settings.template, TEMPLATE_KEYS[name])
        if name == "sw":
            return load_template(self.app.jinja_env, self.settings.sw_template, TEMPLATE_KEYS[name])
        return None

    async def _artifact(
        self, name: ArtifactName, snapshot: Snapshot, template: jinja2.Template | None
    ) -> Artifact:
        if template is None:
            text = precache_json(snapshot)
        else:
            context: dict[str, Any] = (
                manifest_context(snapshot, self.settings)
                if name == "manifest"
                else sw_context(snapshot, self.settings)
            )
            # App templates may call url_for() and friends: they need an app context.
            async with self.app.app_context():
                text = await render_template(template, context, TEMPLATE_KEYS[name])
        return await asyncio.to_thread(Artifact.of, name, text.encode("utf-8"))
