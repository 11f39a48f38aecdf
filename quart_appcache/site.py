"""One Quart app's appcache: settings, bundle, renderer and rendered artifacts.

The extension object can serve several apps; everything that belongs to one
of them lives here, so nothing leaks between apps.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Literal

import jinja2
from quart import Quart

from .bundle import Bundle, Snapshot
from .collect import Declarations
from .config import Settings
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


@dataclass(frozen=True, slots=True)
class Artifact:
    """A rendered artifact: its bytes, strong ETag and content type."""

    body: bytes
    etag: str
    mimetype: str

    @classmethod
    def of(cls, name: ArtifactName, text: str) -> Artifact:
        """Encode ``text`` and tag it with a digest of its bytes."""
        body = text.encode("utf-8")
        return cls(body, hashlib.sha256(body).hexdigest()[:32], MIMETYPES[name])


class Site:
    """Everything the extension keeps for one app.

    Args:
        app: the Quart app.
        settings: its checked ``APPCACHE_*`` settings.
    """

    def __init__(self, app: Quart, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.bundle = Bundle(Declarations(app.root_path, settings.reserved), settings.fallback)
        self.renderer = InProcessRenderer(app, settings.url_base, settings.fetch_timeout)
        self.frozen: dict[ArtifactName, Artifact] | None = None
        self.startup_gen: AsyncGenerator[None, None] | None = None
        # Debug mode: the last render of each artifact, keyed by what it was
        # rendered from, so an unchanged bundle is not rendered again.
        self._recent: dict[ArtifactName, tuple[object, Artifact]] = {}

    @property
    def finalize_at_startup(self) -> bool:
        """``APPCACHE_FINALIZE``, where ``None`` means "unless the app is in debug"."""
        if self.settings.finalize is None:
            return not self.app.debug
        return self.settings.finalize

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
        if recent is not None and recent[0] == key:
            return recent[1]
        text = await self._render(name, snapshot, template)
        artifact = await asyncio.to_thread(Artifact.of, name, text)
        self._recent[name] = (key, artifact)
        return artifact

    async def finalize(self) -> Snapshot:
        """Compute strictly, render every artifact, then freeze."""
        if self.frozen is not None and self.bundle.snapshot is not None:
            return self.bundle.snapshot
        snapshot = await self.bundle.compute(self.renderer, final=True)
        await self.freeze(snapshot)
        return snapshot

    async def freeze(self, snapshot: Snapshot) -> None:
        """Render every artifact of ``snapshot`` and serve them from now on."""
        rendered: dict[ArtifactName, Artifact] = {}
        for name in MIMETYPES:
            text = await self._render(name, snapshot, self._template(name))
            rendered[name] = await asyncio.to_thread(Artifact.of, name, text)
        self.bundle.freeze(snapshot)
        self.frozen = rendered
        self._recent.clear()

    def _template(self, name: ArtifactName) -> jinja2.Template | None:
        if name == "manifest":
            return load_template(self.app.jinja_env, self.settings.template, "APPCACHE_TEMPLATE")
        if name == "sw":
            return load_template(
                self.app.jinja_env, self.settings.sw_template, "APPCACHE_SW_TEMPLATE"
            )
        return None

    async def _render(
        self, name: ArtifactName, snapshot: Snapshot, template: jinja2.Template | None
    ) -> str:
        if template is None:
            return precache_json(snapshot)
        contexts: dict[ArtifactName, Callable[[Snapshot, Settings], dict[str, object]]] = {
            "manifest": manifest_context,
            "sw": sw_context,
        }
        key = "APPCACHE_TEMPLATE" if name == "manifest" else "APPCACHE_SW_TEMPLATE"
        # App templates may call url_for() and friends, which need an app context.
        async with self.app.app_context():
            return await render_template(template, contexts[name](snapshot, self.settings), key)
