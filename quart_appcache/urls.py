"""URL checks and percent-encoding for cache entries.

A cache entry's URL must be exactly the string a browser produces when it
resolves the app's own links, or the cached copy is never found. Browsers
percent-encode a fixed set of characters in a path (the WHATWG "path
percent-encode set") and leave the rest alone, so this module encodes exactly
that set, plus ``%`` and ``?`` in file names, which would otherwise change
meaning. It has no framework imports.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from .errors import InvalidURLError

__all__ = [
    "NAME_NEEDS_ENCODING",
    "check_origin_prefix",
    "check_prefix",
    "check_url",
    "encode_path",
    "encode_segment",
    "listed_key",
    "url_prefix",
]

# Characters a browser percent-encodes in a URL path, besides C0 controls,
# space and everything outside ASCII (WHATWG URL standard, path percent-encode
# set). A file name also needs '%' and '?' encoded, and '\\', which browsers
# would otherwise turn into '/'.
_PATH_SET = frozenset('"#<>`{}')
_NAME_SET = _PATH_SET | frozenset("%?\\")
# The special-query percent-encode set: http(s) URLs also encode "'".
_QUERY_SET = frozenset("\"#<>'")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DOT_SEGMENT = re.compile(r"^(?:\.|%2[eE]){1,2}$")


def _needs_encoding(unsafe: frozenset[str]) -> re.Pattern[str]:
    safe = "".join(re.escape(chr(c)) for c in range(0x21, 0x7F) if chr(c) not in unsafe)
    return re.compile(f"[^{safe}]")


_PATH_PATTERN = _needs_encoding(_PATH_SET)
_NAME_PATTERN = _needs_encoding(_NAME_SET)
_QUERY_PATTERN = _needs_encoding(_QUERY_SET)
_PATTERNS = {_PATH_SET: _PATH_PATTERN, _NAME_SET: _NAME_PATTERN, _QUERY_SET: _QUERY_PATTERN}
NAME_NEEDS_ENCODING = _NAME_PATTERN
"""Matches an ASCII file name that needs percent-encoding (``None``: use it as it is)."""


def _encode(text: str, unsafe: frozenset[str]) -> str:
    if _PATTERNS[unsafe].search(text) is None:  # the common case: nothing to encode
        return text
    out: list[str] = []
    for char in text:
        if char in unsafe or char <= " " or char >= "\x7f":
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
        else:
            out.append(char)
    return "".join(out)


def encode_segment(name: str, *, path: str) -> str:
    """Percent-encode one file name so that it becomes one URL path segment.

    Args:
        name: the file or directory name.
        path: the file's path on disk, named in the error.

    Returns:
        The encoded segment.

    Raises:
        InvalidURLError: the name is not valid UTF-8, so no URL can name it.
    """
    try:
        if not name.isascii():
            name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidURLError(
            f"Cannot cache {path!r}: its name is not valid UTF-8, so no URL can "
            "name it. Rename the file, or exclude it with add_excluded_urls()."
        ) from None
    return _encode(name, _NAME_SET)


def encode_path(path: str) -> str:
    """The canonical encoded form of a decoded URL path (as ASGI servers hand it over).

    Encodes what a browser encodes in a path, and ``%``, ``?`` and ``\\``,
    which can only have reached a decoded path as escapes. Listed URLs go
    through :func:`listed_key`, so the two compare equal whenever the browser
    asked for a listed URL.
    """
    return _encode(path, _NAME_SET)


def listed_key(url: str) -> str:
    """The comparison key of a listed (encoded) URL: its path re-encoded canonically."""
    path, sep, query = url.partition("?")
    return encode_path(unquote(path)) + sep + query


def url_prefix(root_path: object) -> str:
    """The URL prefix of an app served under an ASGI ``root_path``.

    Returns:
        ``""`` for none, else the encoded path without a trailing slash
        (``"/app"``). Anything that is not a path (a server misconfigured
        with ``--root-path app``) is read as if it began with ``/``.
    """
    if not isinstance(root_path, str):
        return ""
    path = root_path.strip("/")
    return "/" + encode_path(path) if path else ""


def check_origin_prefix(prefix: str, *, source: str) -> str:
    """Check an absolute URL prefix of any origin (a NETWORK entry like ``https://cdn.example/``).

    Returns:
        The prefix with scheme and host lower case, non-ASCII percent-encoded.

    Raises:
        InvalidURLError: it is not ``http(s)://host[/path]``, or has
            whitespace or a fragment.
    """
    scheme, sep, rest = prefix.partition("://")
    host, slash, path = rest.partition("/")
    if (
        not sep
        or scheme.lower() not in ("http", "https")
        or not host
        or any(c.isspace() or c < " " for c in prefix)
        or "#" in prefix
    ):
        raise InvalidURLError(
            f"Cannot use {prefix!r} from {source}: an entry of another origin must be an "
            "absolute URL prefix like 'https://cdn.example.com/', without a fragment."
        )
    return f"{scheme.lower()}://{host.lower()}{slash}{_canonical(path) if path else ''}"


def _check(url: object, source: str, kind: str, *, allow_space: bool = False) -> str:
    if not isinstance(url, str):
        raise InvalidURLError(
            f"{source} takes {kind}s as strings; got {url!r} ({type(url).__name__})."
        )
    if not url:
        raise InvalidURLError(f"{source} was given an empty {kind}; give a path like '/offline'.")
    if any((c.isspace() and not (allow_space and c == " ")) or c < " " or c == "\x7f" for c in url):
        raise InvalidURLError(
            f"Cannot use {url!r} from {source}: it contains whitespace or a control "
            "character, which would corrupt the manifest. Percent-encode it "
            "(a space is %20)."
        )
    if "#" in url:
        raise InvalidURLError(
            f"Cannot use {url!r} from {source}: a fragment ('#...') is not part of "
            "a cache entry. Remove it."
        )
    if _SCHEME.match(url) or url.startswith("//"):
        raise InvalidURLError(
            f"Cannot use {url!r} from {source}: only paths on this app can be "
            "cached, never another origin. Give the path, like '/offline'."
        )
    if not url.startswith("/"):
        raise InvalidURLError(
            f"Cannot use {url!r} from {source}: a {kind} must start with '/', like {'/' + url!r}."
        )
    if "\\" in url:
        raise InvalidURLError(
            f"Cannot use {url!r} from {source}: browsers read '\\' as '/'. "
            "Use '/' or encode it as %5C."
        )
    if _BAD_PERCENT.search(url):
        raise InvalidURLError(
            f"Cannot use {url!r} from {source}: '%' must begin an escape like "
            "%20; write a literal '%' as %25."
        )
    path, _, _ = url.partition("?")
    if any(_DOT_SEGMENT.match(part) for part in path.split("/")):
        raise InvalidURLError(
            f"Cannot use {url!r} from {source}: browsers resolve '.' and '..' "
            "segments, so this URL would never match. Write the resolved path."
        )
    return url


def check_url(url: object, *, source: str = "add_urls()") -> str:
    """Check a URL a user declared and return its canonical, encoded form.

    Args:
        url: the URL as declared, like ``/offline`` or ``/page?lang=de``.
        source: where it came from (``add_urls()``, ``APPCACHE_FALLBACK``),
            named in the error.

    Returns:
        The URL with non-ASCII and other characters browsers encode
        percent-encoded; existing escapes are kept.

    Raises:
        InvalidURLError: the URL is not a path on this app, or contains
            whitespace, control characters, a fragment, dot segments or a
            broken escape.
    """
    return _canonical(_check(url, source, "URL"))


def check_prefix(prefix: object, *, source: str) -> str:
    """Check a URL prefix (exclusions, FALLBACK and NETWORK namespaces).

    Same rules and encoding as :func:`check_url`, except that a plain space
    is encoded rather than refused: a prefix is written like a file path.
    """
    return _canonical(_check(prefix, source, "URL prefix", allow_space=True))


def _canonical(url: str) -> str:
    path, sep, query = url.partition("?")
    return _encode(path, _PATH_SET) + sep + _encode(query, _QUERY_SET)
