"""Answering a request for an artifact: bytes, strong ETag, 304, HEAD.

Both adapters turn a :class:`Reply` into their framework's response, so the
HTTP rules live in one place. No framework imports.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "MIMETYPES",
    "Artifact",
    "ArtifactName",
    "Reply",
    "etag_matches",
    "gone",
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


@dataclass(frozen=True, slots=True)
class Artifact:
    """A rendered artifact: its bytes, strong ETag and content type."""

    body: bytes
    etag: str
    mimetype: str

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
    extra: dict[str, str] | None = None,
) -> Reply:
    """The answer to a GET or HEAD for ``artifact``.

    ``no-cache`` makes every client revalidate, which costs a 304 when
    nothing changed; HEAD gets GET's headers and no body.
    """
    headers = {"Cache-Control": "no-cache", "ETag": artifact.quoted_etag, **(extra or {})}
    if etag_matches(if_none_match, artifact.etag):
        return Reply(304, tuple(headers.items()), b"")
    headers["Content-Type"] = artifact.mimetype
    headers["Content-Length"] = str(len(artifact.body))
    body = b"" if method == "HEAD" else artifact.body
    return Reply(200, tuple(headers.items()), body)


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
    body = message.encode("utf-8")
    headers = (
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    )
    return Reply(500, headers, body)
