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
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from .site import Site

__all__ = ["check_unrouted"]


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
    for served in site.served:
        route = route_for(served.url)
        if route is None:
            continue
        key = site.settings.names.name(served.key)
        where = "" if served.url == served.value else f", so the extension serves {served.url!r}"
        raise ConfigError(
            f"{key} is {served.value!r}{where}, but the app also routes it to {route!r}. "
            f"Remove that route or choose another {key}."
        )
