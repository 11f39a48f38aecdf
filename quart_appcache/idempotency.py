"""Writes applied once however often they are replayed: one pure ASGI middleware.

For a request under a queue rule (``APPCACHE_QUEUE``) that carries an
``Idempotency-Key`` header:

* the first time, the app handles it; its answer (status, headers, body up
  to ``APPCACHE_QUEUE_MAX_ANSWER`` bytes) is stored under the key, scoped to
  the method and path, for the rule's ``max_age``, *before* the client gets
  the last of it, so an answer lost on the way is still on record;
* later requests with that key get the stored answer
  (``Idempotent-Replayed: true``) and the app is not called;
* while the first still runs, a request with the key waits for it (up to
  :data:`WAIT` seconds), then gets ``409`` with ``Retry-After``;
* the same key with another request (body, query or content type) is ``422``;
* a ``5xx`` answer or an exception is not stored: the claim is released and
  the write may run again;
* a store failure answers ``503`` with ``Retry-After``, before the app runs.

Requests without the key, or outside the rules, pass through untouched.
Both adapters wrap their app with it. No framework imports.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .answer_store import Answer, AnswerStore, Held
from .errors import StoreError
from .queue import QueueRule, rule_for
from .serving import Reply, header, send_reply
from .tasks import Shared
from .tracked import route_path

__all__ = ["IdempotencyMiddleware", "Writes"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("quart_appcache")

HEADER = b"idempotency-key"
# How long a write may run before its key may be claimed again (a process
# killed mid-write must not block its replays for the rule's max_age).
LEASE = 60.0
# How long a request waits for the same key's write under way, then 409.
WAIT = 10.0
POLL = 0.05
RETRY_AFTER = "1"
PURGE_EVERY = 300.0
# A body up to this size is fingerprinted at once: 64 KiB of SHA-256 takes
# about 37 us here, a thread hop about 170 us (benchmarks/NOTES.md).
INLINE_HASH_BYTES = 64 * 1024


class Writes:
    """The server side of one app's write queue: its rules and answer store.

    Args:
        rules: the checked ``APPCACHE_QUEUE`` rules.
        store: the answer store ``APPCACHE_QUEUE_STORE`` names.
        max_answer: the largest answer body kept, in bytes (``None``: all).
        setting: how the user wrote ``APPCACHE_QUEUE_STORE``, for errors.
    """

    def __init__(
        self,
        rules: tuple[QueueRule, ...],
        store: AnswerStore,
        max_answer: int | None,
        setting: str = "APPCACHE_QUEUE_STORE",
    ) -> None:
        self.rules = rules
        self.store = store
        self.max_answer = max_answer
        self.setting = setting
        self._opened: Shared[None] = Shared()
        self._purging: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Connect the store (once; at startup, else on the first write) and start
        removing expired answers in the background.

        Raises:
            StoreError: the store cannot be reached; the message names it.
        """
        await self._opened(self._open)

    async def _open(self) -> None:
        try:
            await self.store.open()
        except StoreError as error:
            raise StoreError(
                f"{self.setting} is {self.store.url!r}, and it cannot be reached "
                f"({error.cause or error}). Start it, or fix the setting."
            ) from error
        except ImportError as error:  # (checked at init; a broken install)
            raise StoreError(f"{self.setting} is {self.store.url!r}: {error}") from error
        self._purging = asyncio.create_task(self._purge())

    async def close(self) -> None:
        """Stop purging and disconnect the store."""
        purging, self._purging = self._purging, None
        if purging is not None:
            purging.cancel()
            await asyncio.gather(purging, return_exceptions=True)
        self._opened = Shared()
        try:
            await self.store.close()
        except (StoreError, OSError) as error:  # (shutting down: said, not raised)
            logger.warning("quart_appcache: closing %s failed: %s", self.setting, error)

    async def _purge(self) -> None:
        while True:
            try:
                await self.store.purge()
            except StoreError as error:
                logger.warning("quart_appcache: removing expired answers failed: %s", error)
            await asyncio.sleep(PURGE_EVERY)


class IdempotencyMiddleware:
    """Answers each queued write once (see the module's description).

    Args:
        app: the app (or the rest of the middleware stack).
        writes: the app's :class:`Writes`.
    """

    def __init__(self, app: ASGIApp, writes: Writes) -> None:
        self.app = app
        self.writes = writes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = header(scope, HEADER)
        path = route_path(scope["path"], scope.get("root_path", ""))
        rule = rule_for(self.writes.rules, scope["method"], path) if key is not None else None
        if rule is None or key is None:
            await self.app(scope, receive, send)
            return
        if not 0 < len(key) <= 255 or not key.isascii() or not key.isprintable():
            await _plain(
                send,
                400,
                f"The Idempotency-Key header {key[:64]!r} is not 1-255 printable "
                "ASCII characters; send a UUID.",
            )
            return
        body = await _body(receive)
        if body is None:  # the client went away
            return
        fingerprint = await _fingerprint(scope, body)
        # Scoped to the method and the whole path: under Mount("/{tenant}"),
        # one key sent to two tenants is two writes.
        stored_key = f"{scope['method']} {scope.get('root_path', '')}{path} {key}"
        token = uuid.uuid4().hex
        try:
            await self.writes.open()
            held = await self._claim(stored_key, fingerprint, token)
        except StoreError as error:
            logger.error("quart_appcache: %s", error)
            await _plain(
                send, 503, "The server cannot record this write now; try again.", retry_after="5"
            )
            return
        if held is not None:
            await self._answer_held(send, key, held, fingerprint)
            return
        await self._run(scope, body, receive, send, stored_key, token, fingerprint, rule)

    async def _claim(self, stored_key: str, fingerprint: str, token: str) -> Held | None:
        store = self.writes.store
        held = await store.claim(stored_key, fingerprint, token, LEASE)
        waited = 0.0
        while held is not None and held.answer is None and held.fingerprint == fingerprint:
            if waited >= WAIT:
                return held
            await asyncio.sleep(POLL)
            waited += POLL
            held = await store.get(stored_key)
            if held is None:  # released (it failed) or expired: run it here
                held = await store.claim(stored_key, fingerprint, token, LEASE)
        return held

    async def _answer_held(self, send: Send, key: str, held: Held, fingerprint: str) -> None:
        if held.fingerprint != fingerprint:
            await _json(
                send,
                422,
                {
                    "error": f"The Idempotency-Key {key!r} was first sent with another request "
                    "(its body, query or content type differ); send a new key for a new write.",
                },
            )
        elif held.answer is None:
            await _json(
                send,
                409,
                {
                    "error": f"The write with the Idempotency-Key {key!r} is still running; "
                    "try again.",
                },
                retry_after=RETRY_AFTER,
            )
        else:
            answer = held.answer
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in answer.headers]
            if answer.dropped:  # (the body was over the limit: the status and headers)
                headers = [(k, v) for k, v in headers if k != "content-length"]
                headers.append(("content-length", "0"))
            headers.append(("idempotent-replayed", "true"))
            await send_reply(send, Reply(answer.status, tuple(headers), answer.body))

    async def _run(
        self,
        scope: Scope,
        body: bytes,
        receive_more: Receive,
        send: Send,
        stored_key: str,
        token: str,
        fingerprint: str,
        rule: QueueRule,
    ) -> None:
        limit = self.writes.max_answer
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        finished = False

        given = False

        async def receive() -> Message:
            # The body read above, then the server's own messages (a disconnect).
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive_more()

        async def keep(message: Message) -> None:
            nonlocal start, size, finished
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body" and start is not None:
                piece = bytes(message.get("body", b""))
                size += len(piece)
                if limit is None or size <= limit:
                    chunks.append(piece)
                if not message.get("more_body", False) and start["status"] < 500:
                    # On record before the client has it all: an answer lost
                    # on the way is replayed from here. Shielded: a server
                    # that cancels the app when the client goes (hypercorn)
                    # must not leave the key claimed and unanswered.
                    finished = True
                    await asyncio.shield(
                        self._finish(stored_key, fingerprint, start, chunks, size, rule)
                    )
            with contextlib.suppress(OSError):  # (gone: the answer is on record)
                await send(message)

        try:
            await self.app(scope, receive, keep)
        finally:
            if not finished:
                await asyncio.shield(self._release(stored_key, token))

    async def _release(self, stored_key: str, token: str) -> None:
        try:
            await self.writes.store.release(stored_key, token)
        except StoreError as error:
            logger.error("quart_appcache: %s", error)

    async def _finish(
        self,
        stored_key: str,
        fingerprint: str,
        start: Message,
        chunks: list[bytes],
        size: int,
        rule: QueueRule,
    ) -> None:
        limit = self.writes.max_answer
        dropped = size if limit is not None and size > limit else 0
        headers = tuple(
            (bytes(k).lower(), bytes(v))
            for k, v in start.get("headers", [])
            if bytes(k).lower() != b"set-cookie"
        )
        answer = Answer(start["status"], headers, b"" if dropped else b"".join(chunks), dropped)
        try:
            await self.writes.store.finish(stored_key, Held(fingerprint, answer), rule.max_age)
        except StoreError as error:
            # The write ran; its answer still goes to the client, but a replay
            # after the lease would run it again. Said loudly.
            logger.error("quart_appcache: the answer to %r was not recorded: %s", stored_key, error)


async def _body(receive: Receive) -> bytes | None:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(bytes(message.get("body", b"")))
        if not message.get("more_body", False):
            return b"".join(parts)


async def _fingerprint(scope: Scope, body: bytes) -> str:
    def digest() -> str:
        sha = hashlib.sha256()
        for part in (
            scope["method"].encode(),
            bytes(scope.get("query_string", b"")),
            (header(scope, b"content-type") or "").encode("latin-1"),
        ):
            sha.update(len(part).to_bytes(8, "big") + part)
        sha.update(body)
        return sha.hexdigest()

    if len(body) > INLINE_HASH_BYTES:
        return await asyncio.to_thread(digest)
    return digest()


async def _plain(send: Send, status: int, text: str, *, retry_after: str | None = None) -> None:
    await _reply(send, status, "text/plain; charset=utf-8", text.encode(), retry_after)


async def _json(send: Send, status: int, value: object, *, retry_after: str | None = None) -> None:
    await _reply(send, status, "application/json", json.dumps(value).encode(), retry_after)


async def _reply(
    send: Send, status: int, content_type: str, body: bytes, retry_after: str | None
) -> None:
    headers = [("content-type", content_type), ("content-length", str(len(body)))]
    if retry_after is not None:
        headers.append(("retry-after", retry_after))
    await send_reply(send, Reply(status, tuple(headers), body))
