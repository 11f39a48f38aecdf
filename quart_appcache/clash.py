"""One route-clash check for both adapters: no app route on a URL the extension serves.

The extension answers its own URLs (the AppCache manifest, the precache JSON,
the worker, the page client, the web app manifest, the icons); an app route
on one of them would never be reached, or would hide the extension's answer.
Each adapter says which of the app's routes would take a URL; this module
asks it for every served URL and refuses the app the same way for both
frameworks, at ``init_app`` and again at startup. No framework imports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ConfigError
from .icons import ICONS

if TYPE_CHECKING:
    from .site import Site

__all__ = ["Served", "check_unrouted", "served_urls"]

# The setting that chooses each artifact's URL.
ARTIFACT_KEYS = {
    "manifest": "APPCACHE_URL",
    "precache": "APPCACHE_PRECACHE_URL",
    "sw": "APPCACHE_SW_URL",
}


@dataclass(frozen=True)
class Served:
    """A URL the extension serves, and the setting (and its value) that put it there."""

    url: str
    key: str
    value: str


def served_urls(site: Site) -> list[Served]:
    """Every URL the extension serves for this app."""
    served = [Served(url, ARTIFACT_KEYS[name], url) for name, url in site.urls.items()]
    own = site.own
    if own.client_url is not None:
        served.append(Served(own.client_url, "APPCACHE_SW_CLIENT_URL", own.client_url))
    if own.manifest_url is not None:
        served.append(Served(own.manifest_url, "APPCACHE_WEB_MANIFEST_URL", own.manifest_url))
    if own.icon_path is not None:
        base = site.settings.icons_url
        served += [Served(base + icon.name, "APPCACHE_ICONS_URL", base) for icon in ICONS]
    return served


def check_unrouted(site: Site, route_for: Callable[[str], str | None]) -> None:
    """Refuse an app route on any URL the extension serves.

    Args:
        site: the app's appcache state.
        route_for: the adapter's answer to "which of the app's own routes
            (not the extension's) would take a GET of this path?", by name,
            or ``None``.

    Raises:
        ConfigError: naming the setting, the URL and the app's route.
    """
    for served in served_urls(site):
        route = route_for(served.url)
        if route is None:
            continue
        key = site.settings.names.name(served.key)
        where = "" if served.url == served.value else f", so the extension serves {served.url!r}"
        raise ConfigError(
            f"{key} is {served.value!r}{where}, but the app also routes it to {route!r}. "
            f"Remove that route or choose another {key}."
        )
