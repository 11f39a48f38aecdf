"""quart_appcache: offline bundles for Quart, Starlette and FastAPI apps.

Declare which URLs an app needs offline; the extension versions their content
and serves an AppCache manifest, a Workbox-format precache manifest and a
generated service worker.

``from quart_appcache import Appcache`` is the Quart adapter
(:mod:`quart_appcache.quart`), imported only when asked for, so that
``quart_appcache.starlette`` works where Quart is not installed.
The errors are shared by both adapters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors
from .errors import *  # noqa: F403 (the one error hierarchy of both adapters)

if TYPE_CHECKING:
    from .quart import Appcache, get_appcache

__all__ = ["Appcache", "get_appcache"]
__all__ += errors.__all__

__version__ = "0.2.0"

_QUART_ADAPTER = ("Appcache", "get_appcache")


def __getattr__(name: str) -> Any:
    if name in _QUART_ADAPTER:
        from . import quart

        return getattr(quart, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
