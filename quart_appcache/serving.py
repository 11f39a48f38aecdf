"""Answering a request for an artifact: bytes, strong ETag, 304, HEAD, gzip.

Both adapters turn a :class:`Reply` into their framework's response, so the
HTTP rules live in one place. No framework imports.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, replace
from typing import Literal

__all__ = [
    "MIMETYPES",
    "Artifact",
    "ArtifactName",
    "Reply",
    "accepts_gzip",
    "etag_matches",
    "gone",
    "gzip_bytes",
    "not_found",
    "reply_for",
    "unavailable",
]

ArtifactName = Literal["manifest", "precache", "sw"]

MIMETYPES: dict[ArtifactName, str] = {
    "manifest": "text/cache-manifest; charset=utf-8",
    "precache": "application/json",
    "sw": "text/javascript; charset=utf-8",
}
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
        return cls.own(body, MIMETYPES[name])

    @classmethod
    def own(cls, body: bytes, mimetype: str) -> Artifact:
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
