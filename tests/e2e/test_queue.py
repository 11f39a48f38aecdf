"""Offline writes in Chromium: queued by the worker, replayed, applied once by the server.

The notes app (tests/notes_app.py) runs with two workers: Quart under
hypercorn with the default SQLite answer store, FastAPI under uvicorn with a
Redis of the tests' own. Its handler counts every call in the app's own SQLite
database, so each test says how often a write really ran.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from ..notes_app import DRAFTS_MAX_AGE, Notes
from .browser import ARGS, CHROMIUM, RECORD_EVENTS, TIMEOUT_MS, events, open_controlled, until
from .servers import REPO, Server, free_port, serve

pytestmark = [pytest.mark.browser, pytest.mark.server]

SETUPS = (("quart", "hypercorn", "sqlite"), ("fastapi", "uvicorn", "redis"))


class NotesServer:
    def __init__(self, server: Server, notes: Notes) -> None:
        self.server = server
        self.notes = notes
        self.url = server.url


@pytest.fixture(scope="module", params=SETUPS, ids=lambda setup: "-".join(setup))
def notes_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NotesServer]:
    framework, kind, store = request.param
    root = tmp_path_factory.mktemp(framework)
    env = {
        "NOTES_ROOT": str(root),
        "NOTES_DB": str(root / "notes.sqlite3"),
        "PYTHONPATH": str(REPO),
    }
    if store == "redis":
        env["NOTES_STORE"] = request.getfixturevalue("redis_url")
    notes = Notes(root / "notes.sqlite3")
    (root / "notes_server.py").write_text(
        f"from tests.notes_app import from_environment\n\napp = from_environment({framework!r})\n"
    )
    with serve(root, kind=kind, module="notes_server:app", workers=2, env=env) as server:
        yield NotesServer(server, notes)


async def post(page: Page, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST JSON from the page: status, headers that matter, body."""
    answer: dict[str, Any] = await page.evaluate(
        """async ([path, body]) => {
            const response = await fetch(path, {method: 'POST', body: JSON.stringify(body),
                headers: {'Content-Type': 'application/json'}});
            return {status: response.status, queued: response.headers.get('Appcache-Queued'),
                    body: await response.json()};
        }""",
        [path, body],
    )
    return answer


async def wait_write_event(page: Page, name: str, id: str) -> dict[str, Any]:
    """The detail of the event ``name`` for the write ``id``, once the page saw it."""
    await until(
        page,
        "([name, id]) => window.__appcacheEvents.some((e) => e.name === name && e.detail.id === id)",
        [name, id],
    )
    seen = [e for e in await events(page) if e["name"] == name]
    detail: dict[str, Any] = next(e["detail"] for e in seen if e["detail"]["id"] == id)  # type: ignore[index]
    return detail


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    made = await browser.new_context()
    await made.add_init_script(RECORD_EVENTS)
    try:
        yield made
    finally:
        await made.close()


async def opened(context: BrowserContext, url: str) -> Page:
    page = await open_controlled(context, url + "/")
    await until(page, "() => navigator.serviceWorker.controller !== null")
    return page


@pytest.mark.asyncio(loop_scope="session")
async def test_a_write_made_offline_is_replayed_after_the_browser_restarts(
    notes_server: NotesServer, tmp_path: Path
) -> None:
    text = f"train {uuid.uuid4()}"
    profile = tmp_path / "profile"
    async with async_playwright() as playwright:
        chromium = playwright.chromium

        async def launch() -> BrowserContext:
            context = await chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=ARGS, headless=True
            )
            await context.add_init_script(RECORD_EVENTS)
            return context

        first = await launch()
        page = await opened(first, notes_server.url)
        await first.set_offline(True)
        answer = await post(page, "/api/notes", {"text": text})
        assert answer["status"] == 202
        assert answer["body"]["queued"] is True
        write_id = answer["body"]["id"]
        assert answer["queued"] == write_id
        queued = await wait_write_event(page, "queued", write_id)
        assert queued["method"] == "POST"
        assert queued["url"] == notes_server.url + "/api/notes"
        pending = await page.evaluate("window.appcache.pending()")
        assert [item["id"] for item in pending] == [write_id]
        assert notes_server.notes.calls(text) == 0  # nothing reached the server
        await first.close()  # the whole browser, offline, the write still queued

        second = await launch()
        try:
            page = second.pages[0] if second.pages else await second.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            await page.goto(notes_server.url + "/")
            replayed = await wait_write_event(page, "replayed", write_id)
            assert replayed["status"] == 201
            assert replayed["response"]["text"] == text
            assert replayed["response"]["key"] == write_id  # the Idempotency-Key it carried
            row = replayed["response"]["id"]
            assert [n for n in notes_server.notes.listing() if n["text"] == text] == [
                {"id": row, "text": text}
            ]
            assert notes_server.notes.calls(text) == 1
            await until(page, "async () => (await window.appcache.pending()).length === 0")
            # The report was delivered: a page opened now hears nothing again.
            again = await second.new_page()
            await again.goto(notes_server.url + "/")
            await until(again, "() => navigator.serviceWorker.controller !== null")
            await again.evaluate("window.appcache.replay()")
            assert not [e for e in await events(again) if e["name"] == "replayed"]
        finally:
            await second.close()


class DroppingProxy:
    """A TCP proxy that forwards POSTs to /api/notes but, while ``dropping``,
    closes the client's connection once the server starts answering one: the
    server applied the write, the browser never got the answer."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dropping = True
        self.dropped = 0

    async def start(self) -> asyncio.Server:
        return await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        posted = asyncio.Event()

        async def to_server() -> None:
            while data := await reader.read(65536):
                if self.dropping and data.startswith(b"POST /api/notes "):
                    posted.set()  # (an HTTP/1.1 client sends it after the last answer)
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def to_client() -> None:
            while data := await up_reader.read(65536):
                if posted.is_set():
                    self.dropped += 1
                    break
                writer.write(data)
                await writer.drain()
            writer.transport.abort()

        sending = asyncio.ensure_future(to_server())
        try:
            await to_client()
        finally:
            sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)
            up_writer.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_an_answer_lost_on_the_way_is_replayed_from_the_store(
    notes_server: NotesServer, context: BrowserContext
) -> None:
    proxy = DroppingProxy(int(notes_server.url.rsplit(":", 1)[1]))
    server = await proxy.start()
    try:
        text = f"basement {uuid.uuid4()}"
        page = await opened(context, proxy.url)
        answer = await post(page, "/api/notes", {"text": text})
        # The server ran the write; the browser saw the connection drop: queued.
        assert answer["status"] == 202
        write_id = answer["body"]["id"]
        assert proxy.dropped >= 1
        assert notes_server.notes.rows(text) == 1
        proxy.dropping = False
        outcome = await page.evaluate("window.appcache.replay()")
        replayed = await wait_write_event(page, "replayed", write_id)
        assert replayed["status"] == 201
        assert replayed["response"]["text"] == text
        assert [n["id"] for n in notes_server.notes.listing() if n["text"] == text] == [
            replayed["response"]["id"]
        ]
        # Chromium may have sent the POST again itself (a reused connection
        # that closed): those, and the replay, got the stored answer.
        assert notes_server.notes.calls(text) == 1
        assert outcome is None or outcome["waiting"] == 0
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.asyncio(loop_scope="session")
async def test_refused_retried_and_expired_replays(
    notes_server: NotesServer, context: BrowserContext
) -> None:
    page = await opened(context, notes_server.url)
    refused, flaky, draft = (f"{name} {uuid.uuid4()}" for name in ("refused", "flaky", "draft"))
    # Online, a write goes straight through, with a key of the worker's.
    direct = await post(page, "/api/notes", {"text": f"direct {uuid.uuid4()}"})
    assert direct["status"] == 201
    assert uuid.UUID(direct["body"]["key"])
    await context.set_offline(True)
    ids = {}
    for path, body in [
        ("/api/notes", {"text": refused, "status": 400}),
        ("/api/notes", {"text": flaky, "fail_first": True}),
        ("/api/drafts", {"text": draft}),
    ]:
        answer = await post(page, path, body)
        assert answer["status"] == 202
        ids[body["text"]] = answer["body"]["id"]
    pending = await page.evaluate("window.appcache.pending()")
    assert [item["id"] for item in pending] == list(ids.values())  # in order
    # Background Sync is asked to wake the worker once the browser is online.
    tags = await page.evaluate(
        "navigator.serviceWorker.ready.then((registration) => registration.sync.getTags())"
    )
    assert "quart-appcache:queue" in tags
    # The draft's rule keeps it DRAFTS_MAX_AGE seconds.
    created = next(item["created"] for item in pending if item["id"] == ids[draft])
    await until(page, "(until) => Date.now() > until", created + DRAFTS_MAX_AGE * 1000 + 100)
    await context.set_offline(False)
    # The 400 ends its write, reported; the 500 is tried again until it passes.
    failed = await wait_write_event(page, "replay-failed", ids[refused])
    assert failed["status"] == 400
    assert failed["reason"] == "the server refused it"
    for _ in range(20):
        if [e for e in await events(page) if e["name"] == "replayed"]:
            break
        await page.evaluate("window.appcache.replay()")
    replayed = await wait_write_event(page, "replayed", ids[flaky])
    assert replayed["status"] == 201
    expired = await wait_write_event(page, "replay-failed", ids[draft])
    assert expired["status"] is None
    assert expired["reason"].startswith("expired")
    assert notes_server.notes.calls(refused) == 1
    assert (notes_server.notes.calls(flaky), notes_server.notes.rows(flaky)) == (2, 1)
    assert notes_server.notes.calls(draft) == 0
    assert await page.evaluate("window.appcache.pending()") == []
    assert json.dumps(await events(page)).count(ids[refused]) == 2  # queued, replay-failed


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize(
    ("kind", "module"), [("hypercorn", "app:app"), ("uvicorn", "fastapi_app:app")]
)
async def test_the_examples_notes_form_works_offline(
    browser: Browser, tmp_path: Path, kind: str, module: str
) -> None:
    from .servers import copy_example

    root = copy_example(tmp_path / "example")
    with serve(root, kind=kind, module=module, workers=2, logs=tmp_path / "logs") as server:
        context = await browser.new_context()
        try:
            page = await open_controlled(context, server.url + "/")
            await context.set_offline(True)
            await page.fill("#note-form input", "from the basement")
            await page.click("#note-form button")
            await page.wait_for_selector("#notes li:has-text('(waiting to be sent)')")
            await context.set_offline(False)
            await page.wait_for_selector("#notes li:has-text('from the basement (saved as #1)')")
        finally:
            await context.close()
    store = (
        root / "instance" / "appcache-queue.sqlite3"
        if module == "app:app"
        else root / "appcache-queue.sqlite3"
    )
    assert store.exists()
