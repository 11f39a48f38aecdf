"""quart_appcache: offline bundles for Quart apps.

Declare which URLs an app needs offline; the extension versions their content
and serves an AppCache manifest, a Workbox-format precache manifest and a
generated service worker.
"""

from __future__ import annotations

from .errors import (
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

__version__ = "0.1.0"
