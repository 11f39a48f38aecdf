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

from ..errors import (
    AppcacheError,
    BuildError,
    ConfigError,
    FetchError,
    FileReadError,
    FinalizedError,
    FolderNotFoundError,
    InvalidURLError,
    NotAFolderError,
    NotInitializedError,
    TemplateError,
)
from .extension import Appcache, get_appcache

__all__ = [
    "Appcache",
    "AppcacheError",
    "BuildError",
    "ConfigError",
    "FetchError",
    "FileReadError",
    "FinalizedError",
    "FolderNotFoundError",
    "InvalidURLError",
    "NotAFolderError",
    "NotInitializedError",
    "TemplateError",
    "get_appcache",
]
