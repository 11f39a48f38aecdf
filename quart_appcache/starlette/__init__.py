"""quart_appcache for Starlette and FastAPI apps.

::

    from quart_appcache.starlette import Appcache, get_appcache

    appcache = Appcache(app, templates=templates, fallback={"/": "/offline"})
    appcache.add_urls("/", "/offline")
    appcache.add_static("static")

The same offline bundle as the Quart adapter, on the same framework-free
core. It needs Starlette (``pip install 'quart-appcache[starlette]'``), not
Quart. The errors are the ones of :mod:`quart_appcache.errors`.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "quart_appcache.starlette needs Starlette: pip install 'quart-appcache[starlette]'."
    ) from error

from .. import errors
from ..errors import *  # noqa: F403 (the one error hierarchy of both adapters)
from .extension import Appcache, get_appcache
from .middleware import AppcacheMiddleware

__all__ = ["Appcache", "AppcacheMiddleware", "get_appcache"]
__all__ += errors.__all__
