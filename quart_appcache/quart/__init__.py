"""quart_appcache for Quart apps.

::

    from quart_appcache import Appcache   # the same as quart_appcache.quart.Appcache

    appcache = Appcache(app)
    appcache.add_urls("/", "/offline")
    appcache.add_folder("static", base="/static")

It needs Quart (``pip install 'quart-appcache[quart]'``). The errors are the
ones of :mod:`quart_appcache.errors`.
"""

from __future__ import annotations

try:
    import quart  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "quart_appcache's Quart adapter needs Quart: pip install 'quart-appcache[quart]'."
    ) from error

from .. import errors
from ..errors import *  # noqa: F403 (the one error hierarchy of both adapters)
from .extension import Appcache, get_appcache

__all__ = ["Appcache", "get_appcache"]
__all__ += errors.__all__
