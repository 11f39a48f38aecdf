"""What in the settings and templates shapes the artifacts, recorded in every build.

A deploy-time build is served as it is, so a build made under other settings
(FALLBACK, NETWORK, the worker's options, the URLs) or other templates would
serve artifacts the app no longer describes. The build records this
fingerprint; startup refuses a build whose fingerprint differs, naming the
setting. No framework imports.
"""

from __future__ import annotations

import hashlib
import json

import jinja2

from . import __version__
from .render import template_source
from .settings import Settings

__all__ = ["differing", "fingerprint"]


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def fingerprint(
    settings: Settings, env: jinja2.Environment | None, icon_token: str | None
) -> dict[str, str]:
    """The fingerprint: one string per config key (and the package version).

    Args:
        settings: the app's settings.
        env: the app's templates.
        icon_token: the token of the icon source's content, if any.

    Reads the templates' sources: run it off the event loop.
    """
    templates = {
        "APPCACHE_TEMPLATE": settings.template,
        "APPCACHE_SW_TEMPLATE": settings.sw_template,
    }
    record = {
        "quart_appcache": __version__,
        "APPCACHE_URL": _json(settings.url),
        "APPCACHE_PRECACHE_URL": _json(settings.precache_url),
        "APPCACHE_SW_URL": _json(settings.sw_url),
        "APPCACHE_FALLBACK": _json(settings.fallback),
        "APPCACHE_NETWORK": _json(list(settings.network)),
        "APPCACHE_SW_SKIP_WAITING": _json(settings.sw_skip_waiting),
        "APPCACHE_SW_CLIENT_URL": _json(settings.sw_client_url),
        "APPCACHE_SW_VERIFY": _json(settings.sw_verify),
        "APPCACHE_SW_UNREGISTER": _json(settings.sw_unregister),
        "APPCACHE_SW_IGNORED_PARAMS": _json(list(settings.sw_ignored_params)),
        "APPCACHE_RUNTIME": _json([rule.as_json("") for rule in settings.runtime]),
        "APPCACHE_WEB_MANIFEST": _json(settings.web_manifest),
        "APPCACHE_WEB_MANIFEST_URL": _json(settings.web_manifest_url),
        "APPCACHE_ICON": _json(icon_token),  # the source's content, not its path
        "APPCACHE_ICONS_URL": _json(settings.icons_url),
    }
    for key, name in templates.items():
        source = template_source(env, name, settings.names.name(key))
        digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
        record[key] = f"{name} (source {digest})"
    return record


def differing(built: dict[str, str], current: dict[str, str]) -> str | None:
    """The first key whose recorded value differs, or ``None`` when all match."""
    for key in sorted(set(built) | set(current)):
        if built.get(key) != current.get(key):
            return key
    return None
