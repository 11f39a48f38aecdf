"""One app's appcache: settings, bundle, frozen state and rendered artifacts.

An extension object can serve several apps; everything that belongs to one of
them lives here, so nothing leaks between apps. The app is reached through a
:class:`~quart_appcache.host.Host`, so this module imports no framework.

The frozen state has one owner: :attr:`Site.frozen`, an immutable record of a
snapshot and its rendered artifacts, set once by a single shared task
(``finalize()``, startup, or a loaded build). Nothing computed before or after
can replace it, so ``hash()``, ``entries()``, ``urls`` and every artifact
always agree.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from .answer_store import store_for
from .artifacts import BY_NAME, RENDERED, ArtifactName, Served, served_urls
from .build import has_build, read_build
from .build_check import check_build, fingerprint
from .bundle import Bundle, Progress, Snapshot
from .declarations import Declarations, ExtensionEntry, Folder
from .errors import AppcacheError, FinalizedError
from .extension_files import ExtensionFiles
from .host import Host
from .idempotency import Writes
from .render import PrefixedBundle, Renders
from .route_map import Discovery, Route, discover
from .serving import Artifact
from .settings import Settings
from .tasks import Shared
from .tracked import UrlMatcher

__all__ = ["Frozen", "Site", "StartupMode"]

# Distinct errors remembered so each is logged once; a bound, not a tuning knob.
LOGGED_KEPT = 64
logger = logging.getLogger("quart_appcache")

StartupMode = Literal["serve", "cli"]


@dataclass(frozen=True)
class Frozen:
    """What a finalized app serves: one snapshot and its artifacts at the root prefix."""

    snapshot: Snapshot
    artifacts: dict[ArtifactName, Artifact]
    matcher: UrlMatcher = field(repr=False)
    # What the extension serves itself, by URL path (without the query).
    extension_files: dict[str, Artifact] = field(default_factory=dict, repr=False)


class Site:
    """Everything the extension keeps for one app.

    Args:
        host: the app, as the core sees it.
        settings: its checked settings.
        files: the extension's own files, when already made from the same
            settings (checking the icon source once); made here otherwise.

    Raises:
        ConfigError: the icon source cannot be used.
    """

    def __init__(self, host: Host, settings: Settings, files: ExtensionFiles | None = None) -> None:
        self.host = host
        self.settings = settings
        self.files = files if files is not None else ExtensionFiles(settings, host.root_path)
        self.bundle = Bundle(
            Declarations(
                host.root_path,
                settings.reserved,
                fallback_targets=list(dict.fromkeys(settings.fallback.values())),
                fallback_key=settings.names.name("APPCACHE_FALLBACK"),
                extension_files=self.files.entries,
            ),
            discover=self._discover,
            max_entry_bytes=settings.max_entry_bytes,
            limit_key=settings.names.name("APPCACHE_MAX_ENTRY_BYTES"),
        )
        # The latest discovery, with the declarations' generation and the
        # route map it was made from (found again only when one changes).
        self._discovered: tuple[tuple[int, tuple[Route, ...]], Discovery] | None = None
        self.build_dir = (
            os.path.join(host.root_path, settings.build_dir)
            if settings.build_dir is not None
            else None
        )
        # Every URL the extension serves for this app (the registry's entries that are on).
        self.served: list[Served] = served_urls(settings, icons=self.files.icon_path is not None)
        self._serving = {item.url: item.name for item in self.served}
        # The CLI computes by itself after the app's startup; it says so here.
        self.startup_mode: StartupMode = "serve"
        self._frozen: Frozen | None = None
        self._freezing: Shared[Frozen] = Shared()
        # The URLs of the latest listing (or the snapshot that has them), with
        # the declarations' generation it was made under, and the matcher
        # built from them (off the loop).
        self._listed: tuple[int, list[str] | Snapshot] | None = None
        self._matched: tuple[object, UrlMatcher] | None = None
        self._matching: Shared[UrlMatcher] = Shared(keep=False)
        # The artifacts rendered from snapshots, per URL prefix.
        self.renders = Renders(settings, host)
        # The errors already logged by matcher().
        self._logged: set[str] = set()
        # The server side of the write queue, when APPCACHE_QUEUE has rules.
        self.writes = (
            Writes(
                settings.queue,
                store_for(settings.queue_store, host.root_path),
                settings.queue_max_answer,
                settings.names.name("APPCACHE_QUEUE_STORE"),
            )
            if settings.queue
            else None
        )

    # -- state -----------------------------------------------------------------

    @property
    def frozen(self) -> Frozen | None:
        """The finalized state, or ``None`` while the bundle is live."""
        return self._frozen

    @property
    def urls(self) -> dict[ArtifactName, str]:
        """The URL of each rendered artifact this app serves (those not set to ``None``)."""
        urls = {name: getattr(self.settings, BY_NAME[name].setting) for name in RENDERED}
        return {name: url for name, url in urls.items() if url is not None}

    def serves(self, path: str) -> ArtifactName | None:
        """Which artifact a request path (no query, no URL prefix) asks for, if any."""
        return self._serving.get(path)

    async def extension_file(self, path: str) -> Artifact | None:
        """What the extension serves itself at ``path`` (page client, web app
        manifest, icons): the frozen bytes, or the current ones."""
        frozen = self._frozen
        if frozen is not None:
            return frozen.extension_files.get(path)
        for entry in await asyncio.to_thread(self.files.entries):
            if entry.url.partition("?")[0] == path:
                return await asyncio.to_thread(_extension_file, entry)
        return None

    @property
    def finalize_at_startup(self) -> bool:
        """``APPCACHE_FINALIZE``, where ``None`` means "unless the app is in debug"."""
        if self.settings.finalize is None:
            return not self.host.debug
        return self.settings.finalize

    def check_open(self, action: str) -> None:
        """Raise :class:`FinalizedError` when the bundle is frozen or being frozen."""
        if self._frozen is not None or self._freezing.running:
            raise FinalizedError(
                f"{action} was called after finalize(); the offline bundle is frozen. "
                "Make every declaration before the app starts serving (or before "
                "calling finalize())."
            )

    def urls_now(self) -> list[str]:
        """The tracked URLs: frozen, or listed now (folders walked on this thread)."""
        if self._frozen is not None:
            return self._frozen.snapshot.urls
        return [entry.url for entry in self.bundle.collect_now()]

    def _matcher_now(self) -> UrlMatcher | None:
        """The tracked-URL matcher, if one is ready for the current declarations."""
        if self._frozen is not None:
            return self._frozen.matcher
        listed, tracked = self._listed, self._matched
        if (
            listed is not None
            and tracked is not None
            and tracked[0] is listed
            and listed[0] == self.bundle.declarations.generation
        ):
            return tracked[1]
        return None

    async def matcher(self) -> UrlMatcher | None:
        """The tracked-URL matcher, or ``None`` while the bundle is in error.

        The cache-header hooks ask this on every GET: a bundle that cannot be
        listed (a broken link, an unreadable folder, a name no URL can hold)
        must not break the app's other routes. Each distinct error is logged
        once; the artifacts answer 500 with it meanwhile.
        """
        ready = self._matcher_now()
        if ready is not None:
            return ready
        try:
            # Frozen: the frozen snapshot's URLs. Live: those of the latest
            # computation, or of a listing made now (in a worker thread, one
            # shared by concurrent callers) when there was none since the
            # last declaration.
            return await self._matching(self._build_matcher)
        except AppcacheError as error:
            self.report(error)
            return None

    def report(self, error: AppcacheError) -> None:
        """Log why the bundle is unavailable, once per distinct error (not per request)."""
        message = str(error)
        if message not in self._logged:
            if len(self._logged) >= LOGGED_KEPT:
                self._logged.clear()
            self._logged.add(message)
            logger.error("quart_appcache: the offline bundle is unavailable: %s", message)

    async def _build_matcher(self) -> UrlMatcher:
        generation = self.bundle.declarations.generation
        listed = self._listed
        if listed is None or listed[0] != generation:
            entries = await self.bundle.collect(cached=True, with_extension_files=False)
            listed = (generation, [entry.url for entry in entries])
            self._listed = listed
        tracked = await asyncio.to_thread(_matcher_of, listed[1])
        self._matched = (listed, tracked)
        return tracked

    async def _discover(self) -> tuple[Discovery, dict[str, bytes]]:
        """Read the route map: the pages ``add_routes()`` adds, and the non-pages."""
        declarations = self.bundle.declarations
        routes = tuple(self.host.routes())
        key = (declarations.generation, routes)
        known = self._discovered
        if known is not None and known[0] == key:
            return known[1], {}
        tracked = {item.path for item in declarations.items if isinstance(item, Folder)}
        discovery, bodies = await discover(
            routes, declarations.routes, tracked, self._never_a_page, self.host.probe
        )
        self._discovered = (key, discovery)
        return discovery, bodies

    def _never_a_page(self, url: str) -> bool:
        """Whether ``add_routes()`` leaves a URL out whatever it answers."""
        declarations = self.bundle.declarations
        network = tuple(item for item in self.settings.network if item.startswith("/"))
        return (
            declarations.reserved_by(url) is not None
            or self.serves(url) is not None
            or declarations.is_excluded(url)
            or url.startswith(network)
        )

    # -- startup ---------------------------------------------------------------

    async def on_startup(self) -> None:
        """The adapter's startup hook, once the app's own startup has run.

        Serving: connect the write queue's store (when there are queue rules),
        then load the deploy-time build if there is one (never in debug), else
        finalize, unless already frozen or ``APPCACHE_FINALIZE`` says not to.
        The CLI computes by itself, so in its mode nothing happens.

        Raises:
            StoreError: the write queue's store cannot be reached.
        """
        if self.startup_mode == "cli":
            return
        if self.writes is not None:
            await self.writes.open()
        if self._frozen is not None or not self.finalize_at_startup:
            return
        if not self.host.debug and self.build_dir is not None and has_build(self.build_dir):
            await self._freeze(self._load_build)
        else:
            await self.finalize()

    async def on_shutdown(self) -> None:
        """The adapter's shutdown hook: disconnect the write queue's store."""
        if self.writes is not None:
            await self.writes.close()

    # -- computing -------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        """The frozen snapshot (waiting for a finalize under way), or one computed now."""
        if self._frozen is not None:
            return self._frozen.snapshot
        freezing = await self._freezing.joined()
        if freezing is not None:
            return freezing.snapshot
        snapshot = await self.bundle.current(self.host.render, debug=self.host.debug)
        if self._frozen is not None:  # finalized while we computed: that one wins
            return self._frozen.snapshot
        # (Its URLs are listed when they are needed, off the loop.)
        self._listed = (self.bundle.declarations.generation, snapshot)
        return snapshot

    async def finalize(self, progress: Progress | None = None) -> Frozen:
        """Compute strictly, render every artifact, then freeze.

        Concurrent calls share one computation; once frozen, later calls
        return the frozen state at once.
        """
        return await self._freeze(lambda: self._finalize(progress))

    async def _freeze(self, make: Callable[[], Awaitable[Frozen]]) -> Frozen:
        if self._frozen is not None:
            return self._frozen
        return await self._freezing(lambda: self._run_freeze(make))

    async def _run_freeze(self, make: Callable[[], Awaitable[Frozen]]) -> Frozen:
        frozen = await make()
        self._frozen = frozen
        self.renders.clear()
        return frozen

    async def _finalize(self, progress: Progress | None) -> Frozen:
        snapshot = await self.bundle.compute(self.host.render, final=True, progress=progress)
        listing = PrefixedBundle.of(snapshot, self.settings)
        artifacts = {
            name: await self.renders.render(name, listing, self.renders.template(name))
            for name in self.urls
        }
        return await asyncio.to_thread(_frozen, snapshot, artifacts, None)

    async def _load_build(self) -> Frozen:
        """Serve the build in the build folder as it is.

        Raises:
            BuildError: the build is unreadable, incomplete or stale.
        """
        assert self.build_dir is not None
        build = await read_build(self.build_dir, list(self.urls), self.settings.names.build_command)
        await check_build(self, self.build_dir, build)
        artifacts = {
            name: await asyncio.to_thread(Artifact.of, name, build.artifacts[name])
            for name in self.urls
        }
        return await asyncio.to_thread(_frozen, build.snapshot, artifacts, build.gzip)

    def fingerprint(self) -> dict[str, str]:
        """What in the settings and templates shapes the artifacts (reads templates)."""
        return fingerprint(self.settings, self.host.templates(), self.files.token)

    # -- artifacts -------------------------------------------------------------

    async def artifact(self, name: ArtifactName, prefix: str = "") -> Artifact:
        """The rendered artifact for requests under the URL ``prefix``.

        Frozen: the frozen bytes (rendered once per other prefix). Live:
        rendered from a fresh snapshot, shared by concurrent requests.
        """
        frozen = self._frozen
        if frozen is not None and not prefix:
            return frozen.artifacts[name]
        snapshot = frozen.snapshot if frozen is not None else await self.snapshot()
        frozen = self._frozen
        if frozen is not None and not prefix:  # finalized while we computed
            return frozen.artifacts[name]
        return await self.renders.get(name, snapshot, prefix)


def _extension_file(entry: ExtensionEntry) -> Artifact:
    return Artifact.tagged(entry.body, entry.mimetype)


def _frozen(
    snapshot: Snapshot,
    artifacts: dict[ArtifactName, Artifact],
    gzip: Mapping[str, bytes] | None,
) -> Frozen:
    """The frozen record, every text artifact with its gzip form: compressed
    once, here, or read from a build (``gzip``). Hashes and compresses: run it
    off the event loop."""
    gzip = gzip or {}
    own = {
        entry.url.partition("?")[0]: _extension_file(entry) for entry in snapshot.extension_files
    }
    return Frozen(
        snapshot,
        {name: artifact.compressed(gzip.get(name)) for name, artifact in artifacts.items()},
        UrlMatcher(snapshot.urls),
        {path: artifact.compressed(gzip.get(path)) for path, artifact in own.items()},
    )


def _matcher_of(listed: list[str] | Snapshot) -> UrlMatcher:
    return UrlMatcher(listed.urls if isinstance(listed, Snapshot) else listed)
