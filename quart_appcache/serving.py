"""Answering a request for an artifact: bytes, strong ETag, 304, HEAD, gzip.

:func:`answer` is the one request handler of both adapters: each turns the
:class:`Reply` into its framework's response, so the HTTP rules, the error
log and the fallback text live in one place. No framework imports.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .artifacts import BY_NAME, ArtifactName
from .errors import AppcacheError
from .urls import url_prefix

if TYPE_CHECKING:
    from .site import Site

__all__ = [
    "Artifact",
    "Reply",
    "accepts_gzip",
    "answer",
    "etag_matches",
    "gone",
    "gzip_bytes",
    "header",
    "not_found",
    "reply_for",
    "send_reply",
    "unavailable",
]

ETAG_CHARS = 32  # 128 bits: collisions are not a concern, and headers stay short
COMPRESSIBLE = ("text/", "application/json", "application/manifest+json")


def gzip_bytes(data: bytes) -> bytes:
    """gzip, the same bytes for the same input anywhere (no timestamp)."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header allows gzip (``q=0`` refuses it)."""
    if not accept_encoding:
        return False
    allowed: dict[str, bool] = {}
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        allowed[coding.strip()] = quality > 0
    return allowed.get("gzip", allowed.get("x-gzip", allowed.get("*", False)))


@dataclass(frozen=True, slots=True)
class Artifact:
    """A rendered artifact: its bytes, strong ETag and content type."""

    body: bytes
    etag: str
    mimetype: str
    gzip: bytes | None = None

    @property
    def quoted_etag(self) -> str:
        """The ``ETag`` header's value."""
        return f'"{self.etag}"'

    @classmethod
    def of(cls, name: ArtifactName, body: bytes) -> Artifact:
        """Tag ``body`` with a digest of its bytes (hashes: run it off the event loop)."""
        return cls.tagged(body, BY_NAME[name].mimetype)

    @classmethod
    def tagged(cls, body: bytes, mimetype: str) -> Artifact:
        """Tag bytes of any type (the extension's own files) with their digest."""
        return cls(body, hashlib.sha256(body).hexdigest()[:ETAG_CHARS], mimetype)

    def compressed(self, data: bytes | None = None) -> Artifact:
        """This artifact with its gzip form (``data``, or compressed now: run off the loop).

        Text only (images are compressed already), and only when it is smaller.
        ``mtime=0`` makes the bytes the same on every worker and host.
        """
        if data is None:
            if not self.mimetype.startswith(COMPRESSIBLE):
                return self
            data = gzip_bytes(self.body)
        return replace(self, gzip=data) if len(data) < len(self.body) else self


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: status, headers and body (empty for HEAD and 304)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def header(scope: Mapping[str, Any], name: bytes) -> str | None:
    """The first value of the request header ``name`` (lower case) in an ASGI scope."""
    for key, value in scope.get("headers", []):
        if bytes(key).lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def send_reply(send: Callable[[dict[str, Any]], Awaitable[None]], reply: Reply) -> None:
    """Send ``reply`` through an ASGI ``send``."""
    await send(
        {
            "type": "http.response.start",
            "status": reply.status,
            "headers": [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers
            ],
        }
    )
    await send({"type": "http.response.body", "body": reply.body})


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header matches ``etag`` (weak comparison, RFC 9110)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        tag = tag.removeprefix("W/")
        if tag == f'"{etag}"':
            return True
    return False


def reply_for(
    artifact: Artifact,
    *,
    method: str,
    if_none_match: str | None,
    accept_encoding: str | None = None,
    extra: dict[str, str] | None = None,
) -> Reply:
    """The answer to a GET or HEAD for ``artifact``.

    ``no-cache`` makes every client revalidate, which costs a 304 when
    nothing changed; HEAD gets GET's headers and no body. When the artifact
    has a gzip form and the request accepts it, that form is sent, with an
    ETag of its own (``"...-gzip"``) and ``Vary: Accept-Encoding``.
    """
    body, etag = artifact.body, artifact.etag
    headers = {"Cache-Control": "no-cache", **(extra or {})}
    if artifact.gzip is not None:
        headers["Vary"] = "Accept-Encoding"
        if accepts_gzip(accept_encoding):
            body, etag = artifact.gzip, artifact.etag + "-gzip"
            headers["Content-Encoding"] = "gzip"
    headers["ETag"] = f'"{etag}"'
    if etag_matches(if_none_match, etag):
        headers.pop("Content-Encoding", None)
        return Reply(304, tuple(headers.items()), b"")
    headers["Content-Type"] = artifact.mimetype
    headers["Content-Length"] = str(len(body))
    return Reply(200, tuple(headers.items()), b"" if method == "HEAD" else body)


def gone() -> Reply:
    """``410 Gone``: the kill switch is on, and the app is no longer offline-capable."""
    body = b"This app is no longer available offline."
    headers = (
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-cache"),
    )
    return Reply(410, headers, body)


def not_found() -> Reply:
    """``404 Not Found``: a name under the icons URL that is not one of the icons."""
    body = b"Not Found"
    headers = (("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))))
    return Reply(404, headers, body)


def unavailable(message: str) -> Reply:
    """A 500 for an artifact that cannot be computed: browsers keep the cache they have."""
    # A file name that is not UTF-8 reaches the message as surrogate escapes.
    body = message.encode("utf-8", "backslashreplace")
    headers = (
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    )
    return Reply(500, headers, body)


UNAVAILABLE = "The offline bundle is unavailable."


async def answer(
    site: Site,
    path: str,
    *,
    method: str,
    root_path: str,
    if_none_match: str | None,
    accept_encoding: str | None,
) -> Reply | None:
    """The answer to a request for one of the extension's URLs, or ``None``.

    Args:
        site: the app's appcache state.
        path: the path asked for on the app, without its URL prefix.
        method: the request's method.
        root_path: the request's ASGI ``root_path`` (its URL prefix).
        if_none_match, accept_encoding: the request's headers of those names.

    Returns:
        ``None`` when ``path`` is none of the extension's URLs. Otherwise GET
        and HEAD get the artifact (304 on a matching ETag), other methods
        405, the kill switch 410, an icon name that is not one 404, and an
        artifact that cannot be computed 500 (browsers keep the cache they
        have), its reason logged once and shown only in debug mode.
    """
    served = site.serves(path)
    if served is None:
        return None
    if method not in ("GET", "HEAD"):
        return Reply(405, (("Allow", "GET, HEAD"), ("Content-Length", "0")), b"")
    spec = BY_NAME[served]
    if spec.gone_when_killed and site.settings.sw_unregister:
        return gone()
    prefix = url_prefix(root_path)
    try:
        artifact = (
            await site.artifact(served, prefix)
            if spec.rendered
            else await site.extension_file(path)
        )
    except AppcacheError as error:
        site.report(error)
        return unavailable(str(error) if site.host.debug else UNAVAILABLE)
    if artifact is None:
        return not_found()
    extra = {"Service-Worker-Allowed": prefix + "/"} if served == "sw" else None
    return reply_for(
        artifact,
        method=method,
        if_none_match=if_none_match,
        accept_encoding=accept_encoding,
        extra=extra,
    )
