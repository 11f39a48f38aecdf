"""Pure renderers: the AppCache manifest, the precache JSON and the service worker.

Each is a function of a :class:`PrefixedBundle` (one version of the bundle, seen
under one URL prefix) and a Jinja template; none touches the network, the
disk or a framework. Values reach JavaScript only through ``json.dumps``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup, escape

from .artifacts import BY_NAME, RENDERED, ArtifactName
from .bundle import Revision, Snapshot, tracked_only
from .colors import parse_css_color
from .errors import TemplateError
from .queue import queue_json
from .route_map import NonPages
from .runtime import rules_json
from .serving import Artifact
from .settings import Settings
from .tasks import Shared

if TYPE_CHECKING:
    from .host import Host
    from .site import Site

# The worker served while the kill switch (APPCACHE_SW_UNREGISTER) is on.
UNREGISTER_TEMPLATE = "sw-unregister.js"
# Artifacts rendered for URL prefixes other than the app's root are kept per
# prefix; a server has one or two, so a small bound only guards memory.
PREFIXES_KEPT = 16
# Stands for the URL prefix in a render; '{' is percent-encoded in every URL
# and prefix, and json.dumps leaves it as it is.
PREFIX_MARKER = "/{appcache-prefix}"

__all__ = [
    "PACKAGE_TEMPLATES",
    "PrefixedBundle",
    "Renders",
    "client_script",
    "load_template",
    "manifest_context",
    "precache_json",
    "render_template",
    "sw_context",
    "sw_registration",
    "template_globals",
    "template_source",
]


def without_line_comments(source: str) -> str:
    """A packaged script without its full-line ``//`` comments: they explain the
    source, and every client would download them (a third of the worker, gzip)."""
    return "".join(
        line for line in source.splitlines(keepends=True) if not line.lstrip().startswith("//")
    )


class _PackagedLoader(jinja2.PackageLoader):
    """The packaged templates, scripts served without their line comments."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool] | None]:
        source, filename, uptodate = super().get_source(environment, template)
        if template.endswith(".js"):
            source = without_line_comments(source)
        return source, filename, uptodate


PACKAGE_TEMPLATES = jinja2.Environment(
    loader=_PackagedLoader("quart_appcache", "templates"),
    autoescape=False,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class PrefixedBundle:
    """One version of the bundle as the artifacts state it, under one URL prefix.

    An app served under a prefix (an ASGI ``root_path`` such as ``/app``)
    lists every URL with it: entries, FALLBACK and NETWORK prefixes, the
    worker's scope. The version does not depend on the prefix.

    Attributes:
        version: the bundle's version.
        updated: when it was first seen (ISO 8601).
        revisions: the entries, URLs prefixed.
        fallback: FALLBACK prefix -> fallback URL, both prefixed.
        network: NETWORK entries, paths prefixed (``*`` and other origins'
            URL prefixes stay as they are).
        scope: the service worker's scope (``/`` or ``/app/``).
        non_pages: what the route map says is not a page (paths within the app).
    """

    version: str
    updated: str
    revisions: tuple[Revision, ...]
    fallback: dict[str, str]
    network: tuple[str, ...]
    scope: str
    non_pages: NonPages = field(default_factory=NonPages)

    @classmethod
    def of(cls, snapshot: Snapshot, settings: Settings, prefix: str = "") -> PrefixedBundle:
        """The listing of ``snapshot`` under ``prefix`` (``""`` or like ``/app``)."""
        revisions = snapshot.revisions
        if prefix:
            revisions = tuple(
                Revision(prefix + item.url, item.revision, item.size, item.kind)
                for item in revisions
            )
        return cls(
            version=snapshot.version,
            updated=snapshot.updated,
            revisions=revisions,
            fallback={prefix + key: prefix + url for key, url in settings.fallback.items()},
            network=tuple(
                prefix + item if item.startswith("/") else item for item in settings.network
            ),
            scope=prefix + "/",
            non_pages=snapshot.discovery.non_pages,
        )

    @property
    def app_entries(self) -> tuple[Revision, ...]:
        """The app's own entries, without what the extension serves itself."""
        return tracked_only(self.revisions)

    @property
    def urls(self) -> list[str]:
        """The app's tracked URLs, in bundle order."""
        return [item.url for item in self.app_entries]


@functools.cache
def client_script() -> bytes:
    """The page client (``appcache.js``), as the extension serves it."""
    source = resources.files("quart_appcache").joinpath("templates/appcache.js").read_text()
    return without_line_comments(source).encode()


def load_template(env: jinja2.Environment | None, name: str, key: str) -> jinja2.Template:
    """Load ``name`` from the app's environment, else the packaged default.

    Args:
        env: the app's Jinja environment (its own templates win), if any.
        name: the template name.
        key: the setting that chose it, named in errors.

    Raises:
        TemplateError: the template is missing everywhere or has a syntax error.
    """
    try:
        if env is not None:
            try:
                return env.get_template(name)
            except jinja2.TemplateNotFound:
                pass
        return PACKAGE_TEMPLATES.get_template(name)
    except jinja2.TemplateNotFound:
        raise TemplateError(
            f"{key} is {name!r}, but no template of that name exists in the app's "
            "template folders. Create it or remove the setting to use the default."
        ) from None
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(
            f"The template {name!r} ({key}) has a syntax error at line {error.lineno}: "
            f"{error.message}. Fix the template."
        ) from error


def template_source(env: jinja2.Environment | None, name: str, key: str) -> str:
    """The source text of the template :func:`load_template` would load.

    Raises:
        TemplateError: the template is missing everywhere.
    """
    for candidate in (env, PACKAGE_TEMPLATES):
        if candidate is None or candidate.loader is None:
            continue
        try:
            source, _, _ = candidate.loader.get_source(candidate, name)
            return source
        except jinja2.TemplateNotFound:
            continue
    raise TemplateError(
        f"{key} is {name!r}, but no template of that name exists in the app's "
        "template folders. Create it or remove the setting to use the default."
    )


async def render_template(template: jinja2.Template, context: Mapping[str, Any], key: str) -> str:
    """Render a template, sync or async, naming it in errors.

    Raises:
        TemplateError: rendering raised.
    """
    try:
        if template.environment.is_async:
            return await template.render_async(context)
        return template.render(context)
    except Exception as error:
        raise TemplateError(
            f"Rendering the template {template.name!r} ({key}) failed: "
            f"{type(error).__name__}: {error}. Fix the template."
        ) from error


def manifest_context(listing: PrefixedBundle) -> dict[str, Any]:
    """The variables of the AppCache manifest template.

    ``urls``, ``hash``, ``updated``, ``fallback`` and ``network`` as in the
    original Flask-Appcache, plus ``entries`` (``url``, ``revision``,
    ``size``) for templates that want per-URL revisions. AppCache-era
    browsers have no service worker, so the page client is not listed.
    """
    return {
        "urls": listing.urls,
        "hash": listing.version,
        "updated": listing.updated,
        "fallback": dict(listing.fallback),
        "network": list(listing.network),
        "entries": listing.app_entries,
    }


def precache_json(listing: PrefixedBundle) -> str:
    """The entries as Workbox's precache manifest: ``[{"url", "revision"}, ...]``."""
    return json.dumps(
        [{"url": item.url, "revision": item.revision} for item in listing.revisions],
        separators=(",", ":"),
    )


def sw_context(listing: PrefixedBundle, settings: Settings) -> dict[str, Any]:
    """The variables of the service-worker template, each already JSON.

    The template pastes them into JavaScript as they are, so nothing else
    may ever reach the script.
    """
    unverified = [
        item.url
        for item in listing.revisions
        if item.kind == "view" and settings.sw_verify != "all"
    ]
    return {
        "version": json.dumps(listing.version),
        # (Named in the header for `verify`, which reads the deployment from outside.)
        "precache_url": json.dumps(
            None
            if settings.precache_url is None
            else listing.scope.rstrip("/") + settings.precache_url
        ),
        "entries": precache_json(listing),
        "fallback": json.dumps(sorted(listing.fallback.items(), key=lambda item: -len(item[0]))),
        "fallback_exclude": json.dumps(non_pages(listing, settings)),
        "network": json.dumps(list(listing.network)),
        "update": json.dumps(settings.sw_update),
        "verify": json.dumps(settings.sw_verify != "none"),
        "unverified": json.dumps(unverified),
        "ignored_params": json.dumps([_param_pattern(p) for p in settings.sw_ignored_params]),
        "hashed_names": json.dumps(settings.hashed_names),
        "runtime": rules_json(settings.runtime, listing.scope.rstrip("/")),
        "queue": queue_json(settings.queue, listing.scope.rstrip("/")),
    }


def non_pages(listing: PrefixedBundle, settings: Settings) -> dict[str, list[Any]]:
    """The page loads the worker never answers with the fallback page.

    APPCACHE_FALLBACK_EXCLUDE, the path prefixes under NETWORK, and what the
    route map says is not a page: prefixes (with the URL prefix), and
    patterns as ``[source, flags]`` matched against the path within the app.
    """
    prefix = listing.scope.rstrip("/")
    network = [item for item in settings.network if item.startswith("/")]
    prefixes = [*settings.fallback_exclude[0], *network, *listing.non_pages.prefixes]
    patterns = [
        *(list(item) for item in settings.fallback_exclude[1]),
        *([source, ""] for source in listing.non_pages.patterns),
    ]
    return {"prefixes": [prefix + item for item in dict.fromkeys(prefixes)], "patterns": patterns}


def _param_pattern(glob: str) -> str:
    """A query-parameter glob (``utm_*``) as a JavaScript regular expression source."""
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob]
    return "^" + "".join(parts) + "$"


def sw_registration(settings: Settings, prefix: str = "") -> Markup:
    """The ``<script>`` that loads the page client, which registers the worker.

    ``<script src="/appcache.js" data-sw="/sw.js" data-scope="/" defer>``: no
    inline script, so it works under ``Content-Security-Policy: script-src
    'self'``. Empty when ``APPCACHE_SW_URL`` or ``APPCACHE_SW_CLIENT_URL``
    is ``None``. With ``APPCACHE_SW_UNREGISTER`` the client unregisters
    instead.
    """
    if settings.sw_url is None or settings.sw_client_url is None:
        return Markup("")
    attributes = {
        "src": prefix + settings.sw_client_url,
        "data-sw": prefix + settings.sw_url,
        "data-scope": prefix + "/",
    }
    if settings.sw_update_interval is not None:
        attributes["data-update-interval"] = f"{settings.sw_update_interval:g}"
    if settings.queue:
        attributes["data-queue"] = "true"
    if settings.sw_unregister:
        attributes["data-unregister"] = "true"
    elif settings.sw_prompt is not None:
        attributes["data-prompt"] = json.dumps(
            {**settings.sw_prompt, **_prompt_colors(settings)}, separators=(",", ":")
        )
    shown = " ".join(f'{name}="{escape(value)}"' for name, value in attributes.items())
    return Markup(f"<script {shown} defer></script>")


def _prompt_colors(settings: Settings) -> dict[str, str]:
    """The prompt's accent: the web app manifest's ``theme_color``, with black or
    white text, whichever reads better on it (WCAG contrast)."""
    theme = (settings.web_manifest or {}).get("theme_color")
    rgba = parse_css_color(theme) if isinstance(theme, str) else None
    if rgba is None:
        return {}
    channels = [value / 255 for value in rgba[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    # Contrast with white: 1.05 / (L + 0.05); with black: (L + 0.05) / 0.05.
    text = "#000000" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "#ffffff"
    return {"accent": "#{:02x}{:02x}{:02x}".format(*rgba[:3]), "accent_text": text}


def template_globals(
    site_of: Callable[[jinja2.runtime.Context], Site],
    prefix_of: Callable[[jinja2.runtime.Context], str],
) -> dict[str, Callable[..., Any]]:
    """The template globals both adapters install, by name.

    Args:
        site_of: the app's appcache state, from the template's context.
        prefix_of: the URL prefix of the request being rendered, from it.
    """

    @jinja2.pass_context
    def appcache_manifest_url(context: jinja2.runtime.Context) -> str:
        """The AppCache manifest's URL, under the request's URL prefix."""
        return prefix_of(context) + site_of(context).settings.url

    @jinja2.pass_context
    def appcache_sw_script(context: jinja2.runtime.Context) -> Markup:
        """The ``<script>`` of the page client, which registers the service worker."""
        return sw_registration(site_of(context).settings, prefix_of(context))

    @jinja2.pass_context
    def appcache_head(context: jinja2.runtime.Context) -> Markup:
        """The web app manifest link, theme colour, icons and the page client's script."""
        return site_of(context).files.head(prefix_of(context))

    return {
        "appcache_manifest_url": appcache_manifest_url,
        "appcache_sw_script": appcache_sw_script,
        "appcache_head": appcache_head,
    }


class Renders:
    """One app's artifacts rendered from snapshots, per URL prefix.

    Concurrent requests share one render; an unchanged snapshot is not
    rendered again; at most ``PREFIXES_KEPT`` prefixes per artifact are kept.

    Args:
        settings: the app's settings.
        host: the app (its templates, and the scope they render in).
    """

    def __init__(self, settings: Settings, host: Host) -> None:
        self.settings = settings
        self.host = host
        self._rendered: dict[tuple[ArtifactName, str], Shared[Artifact]] = {}
        # Each artifact rendered under PREFIX_MARKER, for every other prefix.
        self._marked: dict[ArtifactName, Shared[Artifact]] = {}

    def clear(self) -> None:
        """Forget every render (the app was frozen)."""
        self._rendered.clear()
        self._marked.clear()

    async def get(self, name: ArtifactName, snapshot: Snapshot, prefix: str) -> Artifact:
        """``name`` rendered from ``snapshot`` for requests under ``prefix``."""
        template = self.template(name)
        key = (snapshot, template)
        slot = (name, prefix)
        shared = self._rendered.pop(slot, None) or Shared()
        self._rendered[slot] = shared  # the most recently used last
        while len(self._rendered) > PREFIXES_KEPT * len(RENDERED):
            del self._rendered[next(iter(self._rendered))]
        return await shared(lambda: self._render_under(name, snapshot, template, prefix), key)

    async def _render_under(
        self, name: ArtifactName, snapshot: Snapshot, template: jinja2.Template | None, prefix: str
    ) -> Artifact:
        if not prefix or (template is not None and template.environment is not PACKAGE_TEMPLATES):
            # (An app's own template may do anything with the URLs: rendered
            # per prefix, at most PREFIXES_KEPT of them kept.)
            return await self.render(
                name, PrefixedBundle.of(snapshot, self.settings, prefix), template
            )

        # The packaged renderers put the prefix in front of URLs and nowhere
        # else: rendered once with a marker, then the prefix is put in, so
        # prefixes a client chooses (Mount("/{tenant}", ...)) cost no render.
        def render_marked() -> Awaitable[Artifact]:
            listing = PrefixedBundle.of(snapshot, self.settings, PREFIX_MARKER)
            return self.render(name, listing, template)

        marked = self._marked.setdefault(name, Shared())
        base = await marked(render_marked, (snapshot, template))
        return await asyncio.to_thread(_with_prefix, name, base, prefix)

    def template(self, name: ArtifactName) -> jinja2.Template | None:
        settings = self.settings
        if name == "sw" and settings.sw_unregister:
            return load_template(None, UNREGISTER_TEMPLATE, "APPCACHE_SW_UNREGISTER")
        template_key = BY_NAME[name].template_key
        if template_key is None:
            return None
        chosen = settings.template if name == "manifest" else settings.sw_template
        return load_template(self.host.templates(), chosen, settings.names.name(template_key))

    async def render(
        self, name: ArtifactName, listing: PrefixedBundle, template: jinja2.Template | None
    ) -> Artifact:
        if template is None:
            text = precache_json(listing)
        else:
            context: dict[str, Any] = (
                manifest_context(listing)
                if name == "manifest"
                else sw_context(listing, self.settings)
            )
            # App templates may call url_for() and friends: they may need an app context.
            async with self.host.template_scope():
                key = self.settings.names.name(str(BY_NAME[name].template_key))
                text = await render_template(template, context, key)
        return await asyncio.to_thread(Artifact.of, name, text.encode("utf-8"))


def _with_prefix(name: ArtifactName, base: Artifact, prefix: str) -> Artifact:
    """``base`` rendered under the marker, with ``prefix`` put in (hashes: off the loop)."""
    return Artifact.of(name, base.body.replace(PREFIX_MARKER.encode(), prefix.encode("ascii")))
