"""The errors quart_appcache raises.

Every error is an :class:`AppcacheError`, so ``except AppcacheError`` catches
them all. Where Python has a natural built-in for the mistake, the error also
subclasses it, so code written against the original Flask-Appcache
(``ValueError`` for a bad URL, ``RuntimeError`` after ``finalize()``) keeps
working::

    AppcacheError
     ├── InvalidURLError     (ValueError)          a declared URL cannot be cached
     ├── ConfigError         (ValueError)          an APPCACHE_* key holds a bad value
     ├── FolderNotFoundError (FileNotFoundError)   add_folder() of a missing path
     ├── NotAFolderError     (NotADirectoryError)  add_folder() of a file
     ├── FinalizedError      (RuntimeError)        a declaration after finalize()
     ├── NotInitializedError (RuntimeError)        no app to work on
     ├── FetchError                                a tracked view did not answer 200
     ├── FileReadError       (OSError)             a tracked file could not be read
     ├── EntryTooLargeError                        a tracked file or view is over the size limit
     ├── TemplateError                             a manifest or worker template failed
     ├── BuildError                                a deploy-time build is missing or stale
     └── StoreError          (ConnectionError)     the write queue's answer store failed

Every message is a sentence that names the culprit (URL, path, config key)
and says how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AppcacheError",
    "BuildError",
    "ConfigError",
    "EntryTooLargeError",
    "FetchError",
    "FileReadError",
    "FinalizedError",
    "FolderNotFoundError",
    "InvalidURLError",
    "NotAFolderError",
    "NotInitializedError",
    "StoreError",
    "TemplateError",
]


class AppcacheError(Exception):
    """Base class of every error raised by quart_appcache."""


class InvalidURLError(AppcacheError, ValueError):
    """A URL given to ``add_urls`` (or a config key) cannot go into a manifest."""


class ConfigError(AppcacheError, ValueError):
    """An ``APPCACHE_*`` config key holds a value the extension cannot use."""


class FolderNotFoundError(AppcacheError, FileNotFoundError):
    """``add_folder`` was given a path that does not exist."""


class NotAFolderError(AppcacheError, NotADirectoryError):
    """``add_folder`` was given a path that is not a directory."""


class FinalizedError(AppcacheError, RuntimeError):
    """A declaration was made after ``finalize()`` froze the bundle."""


class NotInitializedError(AppcacheError, RuntimeError):
    """The extension was used before ``init_app`` gave it an app."""


class FetchError(AppcacheError):
    """A tracked URL rendered in-process did not answer ``200 OK``.

    Attributes:
        url: the tracked URL.
        status: the HTTP status it answered, or ``None`` when it raised or
            timed out.
        location: the redirect target, for a 3xx answer.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        location: str | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.location = location


class FileReadError(AppcacheError, OSError):
    """A tracked file vanished or could not be read while it was hashed."""


class EntryTooLargeError(AppcacheError):
    """A tracked file or view is larger than ``APPCACHE_MAX_ENTRY_BYTES``.

    Attributes:
        url: the tracked URL.
        size: its size in bytes.
    """

    def __init__(self, message: str, *, url: str, size: int) -> None:
        super().__init__(message)
        self.url = url
        self.size = size


class TemplateError(AppcacheError):
    """A manifest or service-worker template could not be loaded or rendered."""


class BuildError(AppcacheError):
    """A deploy-time build is missing, unreadable or does not match the app."""


class StoreError(AppcacheError, ConnectionError):
    """The write queue's answer store (``APPCACHE_QUEUE_STORE``) cannot be reached or failed.

    Attributes:
        cause: what failed, in a few words (the store's own error).
    """

    cause: str = ""
