"""Pure renderers: the AppCache manifest, the precache JSON and the service worker.

Each is a function of (snapshot, settings) and a Jinja template; none touches
the network, the disk or Quart. Values reach JavaScript only through
``json.dumps``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from .bundle import Snapshot
from .config import Settings
from .errors import TemplateError

__all__ = [
    "PACKAGE_TEMPLATES",
    "load_template",
    "manifest_context",
    "precache_json",
    "render_template",
    "sw_context",
    "sw_registration",
]

PACKAGE_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("quart_appcache", "templates"),
    autoescape=False,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)


def load_template(env: jinja2.Environment, name: str, key: str) -> jinja2.Template:
    """Load ``name`` from the app's environment, else the packaged default.

    Args:
        env: the app's Jinja environment (its own templates win).
        name: the template name.
        key: the config key that chose it, named in errors.

    Raises:
        TemplateError: the template is missing everywhere or has a syntax error.
    """
    try:
        try:
            return env.get_template(name)
        except jinja2.TemplateNotFound:
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


def manifest_context(snapshot: Snapshot, settings: Settings) -> dict[str, Any]:
    """The variables of the AppCache manifest template.

    ``urls``, ``hash``, ``updated``, ``fallback`` and ``network`` as in the
    original Flask-Appcache, plus ``entries`` (``url``, ``revision``,
    ``size``) for templates that want per-URL revisions.
    """
    return {
        "urls": snapshot.urls,
        "hash": snapshot.version,
        "updated": snapshot.updated,
        "fallback": dict(settings.fallback),
        "network": list(settings.network),
        "entries": snapshot.revisions,
    }


def precache_json(snapshot: Snapshot) -> str:
    """The entries as Workbox's precache manifest: ``[{"url", "revision"}, ...]``."""
    return json.dumps(
        [{"url": item.url, "revision": item.revision} for item in snapshot.revisions],
        separators=(",", ":"),
    )


def sw_context(snapshot: Snapshot, settings: Settings) -> dict[str, Any]:
    """The variables of the service-worker template, each already JSON.

    The template pastes them into JavaScript as they are, so nothing else
    may ever reach the script.
    """
    return {
        "version": json.dumps(snapshot.version),
        "entries": precache_json(snapshot),
        "fallback": json.dumps(sorted(settings.fallback.items(), key=lambda item: -len(item[0]))),
        "network": json.dumps(list(settings.network)),
        "skip_waiting": json.dumps(settings.sw_skip_waiting),
    }


def sw_registration(sw_url: str | None) -> Markup:
    """The ``<script>`` that registers the service worker for the whole origin.

    Empty when ``APPCACHE_SW_URL`` is ``None``. The URL goes in through
    HTML-safe JSON. The page waits for ``load`` so that precaching does not
    compete with the page's own requests.
    """
    if sw_url is None:
        return Markup("")
    return Markup(
        "<script>\n"
        "if ('serviceWorker' in navigator) {\n"
        "  window.addEventListener('load', function () {\n"
        f"    navigator.serviceWorker.register({htmlsafe_json_dumps(sw_url)}, "
        "{scope: '/', updateViaCache: 'none'});\n"
        "  });\n"
        "}\n"
        "</script>"
    )
