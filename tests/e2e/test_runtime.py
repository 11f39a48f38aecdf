"""Runtime caching in real Chromium: strategies, limits, and what is never stored."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from .browser import open_controlled
from .servers import Server, copy_example, serve

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.asyncio(loop_scope="session")]

RUNTIME_APP = """
import asyncio
import itertools

from quart import request

from app import create_app

counter = itertools.count()

app = create_app(
    APPCACHE_NETWORK=[],  # nothing else may use the network: the rules are the permission
    APPCACHE_RUNTIME=[
        {"match": "/api/swr", "strategy": "stale-while-revalidate"},
        {"match": "/cf/", "strategy": "cache-first"},
        {"match": "/slow", "strategy": "network-first", "timeout": 1},
        {"match": "/aged", "strategy": "network-first", "max_age": 1},
        {"match": "/nostore", "strategy": "network-first"},
        {"match": "/offline", "strategy": "network-first"},  # precached: the precache wins
        {"match": "navigate", "strategy": "network-first", "max_entries": 2, "preload": True},
        {"match": "/api/notify", "strategy": "stale-while-revalidate", "notify": True},
    ],
)
slow_calls = itertools.count()


@app.route("/pages/<int:number>")
async def page(number):
    preload = request.headers.get("Service-Worker-Navigation-Preload", "none")
    return (
        f'<!doctype html><link rel="icon" href="data:,"><h1 id="title">Page {number}</h1>'
        f'<p id="preload">{preload}</p>'
    )


@app.route("/api/swr")
async def swr():
    return {"n": next(counter)}


NOTIFY = {"body": "one"}


@app.route("/api/notify")
async def notify():
    return {"body": NOTIFY["body"]}


@app.route("/api/notify/<body>", methods=["POST"])
async def set_notify(body):
    NOTIFY["body"] = body
    return "ok"


@app.route("/cf/<name>")
async def cache_first(name):
    return {"name": name, "n": next(counter)}


@app.route("/slow")
async def slow():
    if next(slow_calls) > 0:  # the first answer is quick, every later one takes 5 s
        await asyncio.sleep(5)
    return {"slow": True}


@app.route("/aged")
async def aged():
    return {"n": next(counter)}


@app.route("/nostore")
async def nostore():
    return {"n": next(counter)}, 200, {"Cache-Control": "private, no-store"}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = copy_example(tmp_path_factory.mktemp("runtime") / "example")
    (root / "runtime_app.py").write_text(RUNTIME_APP)
    with serve(root, module="runtime_app:app") as running:
        yield running


async def controlled(browser: Browser, server: Server) -> tuple[BrowserContext, Page]:
    context = await browser.new_context()
    return context, await open_controlled(context, server.url + "/")


async def runtime_cache(page: Page, suffix: str) -> list[str]:
    urls: list[str] = await page.evaluate(
        f"""async () => {{
            const name = (await caches.keys()).find((n) => n.endsWith(':runtime:{suffix}'));
            if (!name) return [];
            const cache = await caches.open(name);
            return (await cache.keys()).map((r) => new URL(r.url).pathname);
        }}"""
    )
    return urls


async def take_over(page: Page) -> None:
    """Check for a new version and wait until it controls the page and has
    finished activating (skip waiting is on)."""
    await page.evaluate(
        """() => new Promise((resolve, reject) => {
            setTimeout(() => reject(new Error('no new version took over')), 20000);
            const activated = () => {
                const worker = navigator.serviceWorker.controller;
                if (worker.state === 'activated') { resolve(true); return; }
                worker.addEventListener('statechange', () => {
                    if (worker.state === 'activated') resolve(true);
                });
            };
            navigator.serviceWorker.addEventListener('controllerchange', activated);
            navigator.serviceWorker.getRegistration().then((r) => r.update());
        })"""
    )


def count(server: Server, line: str) -> int:
    return [entry.split("?")[0] for entry in server.requests()].count(line)


async def fetch_json(page: Page, url: str) -> object:
    return await page.evaluate(f"fetch({url!r}).then((r) => r.json())")


async def test_visited_pages_reload_offline_and_the_oldest_is_evicted(
    browser: Browser, server: Server
) -> None:
    context, page = await controlled(browser, server)
    for number in (1, 2, 3):
        await page.goto(f"{server.url}/pages/{number}")
        assert await page.text_content("#title") == f"Page {number}"
    # max_entries 2: the least recently stored page is gone.
    assert sorted(await runtime_cache(page, "runtime-6")) == ["/pages/2", "/pages/3"]
    await context.set_offline(True)
    await page.goto(f"{server.url}/pages/3")
    assert await page.text_content("#title") == "Page 3"  # from the runtime cache
    await page.goto(f"{server.url}/pages/1")
    assert await page.text_content("#title") == "You are offline"  # evicted: the FALLBACK
    await page.goto(f"{server.url}/pages/9")
    assert await page.text_content("#title") == "You are offline"  # never visited
    await context.close()


async def test_strategies(browser: Browser, server: Server) -> None:
    context, page = await controlled(browser, server)
    # stale-while-revalidate: the second answer is the stored copy, and the
    # server still sees the revalidation.
    before = count(server, "GET /api/swr")
    first = await fetch_json(page, "/api/swr")
    # The copy is stored after the answer: wait for it, not for a lucky race.
    # (wait_for_function does not wait for a promise: the loop runs in the page.)
    await page.evaluate(
        """async () => {
            const deadline = Date.now() + 10000;
            while (Date.now() < deadline) {
                const name = (await caches.keys()).find((n) => n.endsWith(':runtime:runtime-0'));
                if (name && await (await caches.open(name)).match('/api/swr')) { return true; }
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
            throw new Error('the copy of /api/swr was never stored');
        }"""
    )
    second = await fetch_json(page, "/api/swr")
    assert second == first
    server.wait_for_request("GET /api/swr")
    deadline = time.monotonic() + 10
    while count(server, "GET /api/swr") < before + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count(server, "GET /api/swr") == before + 2

    # cache-first: the second request never reaches the server, even when it
    # starts while the first is still being fetched and stored.
    one = await fetch_json(page, "/cf/a")
    assert await fetch_json(page, "/cf/a") == one
    assert count(server, "GET /cf/a") == 1
    together = await page.evaluate(
        "Promise.all([1, 2, 3].map(() => fetch('/cf/b').then((r) => r.json())))"
    )
    assert together[0] == together[1] == together[2]
    assert count(server, "GET /cf/b") == 1

    # network-first with timeout 1 s against a route that now takes 5 s: the copy answers.
    assert await fetch_json(page, "/slow") == {"slow": True}
    started = time.monotonic()
    assert await fetch_json(page, "/slow") == {"slow": True}
    assert time.monotonic() - started < 2.5

    # A precached URL is answered from the precache even though a rule matches it.
    async with page.expect_response("**/offline") as offline:
        await page.evaluate("fetch('/offline')")
    assert (await offline.value).from_service_worker
    assert await runtime_cache(page, "runtime-5") == []
    await context.close()


async def test_what_is_never_stored_or_served(browser: Browser, server: Server) -> None:
    context, page = await controlled(browser, server)
    await fetch_json(page, "/nostore")
    await fetch_json(page, "/aged")
    assert await runtime_cache(page, "runtime-4") == []  # Cache-Control: no-store
    assert await runtime_cache(page, "runtime-3") == ["/aged"]
    stored_at = time.time()
    # POSTs are never answered by the worker, online or offline (no fallback either).
    async with page.expect_response("**/api/echo") as posted:
        await page.evaluate("fetch('/api/echo', {method: 'POST'})")
    assert (await posted.value).from_service_worker is False
    await context.set_offline(True)
    outcome = await page.evaluate(
        "fetch('/api/echo', {method: 'POST'}).then((r) => 'answered ' + r.status, () => 'rejected')"
    )
    assert outcome == "rejected"
    # max_age 1: once the copy is older than a second it is never served, and deleted.
    await page.wait_for_function(f"Date.now() / 1000 > {stored_at + 1.2}")
    aged = await page.evaluate(
        "fetch('/aged').then((r) => 'answered ' + r.status, () => 'rejected')"
    )
    assert aged == "rejected"
    assert await runtime_cache(page, "runtime-3") == []
    await context.close()


async def test_runtime_caches_outlive_versions_and_go_with_their_rule(
    browser: Browser, tmp_path: Path
) -> None:
    root = copy_example(tmp_path / "example")
    app = root / "rules_app.py"
    app.write_text(
        "from app import create_app\n"
        "app = create_app(APPCACHE_RUNTIME=[{'match': 'navigate', 'strategy': 'network-first', "
        "'name': 'pages'}], APPCACHE_SW_UPDATE='immediate')\n"
    )
    from .servers import free_port

    port = free_port()
    context = await browser.new_context()
    with serve(root, module="rules_app:app", port=port) as running:
        page = await open_controlled(context, running.url + "/")
        await page.goto(running.url + "/live")
        assert await runtime_cache(page, "pages") == ["/live"]
    # A new version with the same rule keeps the runtime cache.
    script = root / "static" / "js" / "app.js"
    script.write_text(script.read_text().replace("script version 1", "script version 2"))
    with serve(root, module="rules_app:app", port=port) as running:
        await page.goto(running.url + "/")
        await take_over(page)
        await page.reload()
        await page.wait_for_selector("#script-status:text('script version 2')")
        assert await runtime_cache(page, "pages") == ["/live"]
    # The rule removed: its cache goes when the next version activates.
    app.write_text("from app import create_app\napp = create_app(APPCACHE_SW_UPDATE='immediate')\n")
    with serve(root, module="rules_app:app", port=port) as running:
        await page.goto(running.url + "/")
        await take_over(page)
        names = await page.evaluate("caches.keys()")
        assert not [name for name in names if ":runtime:" in name]
    await context.close()


async def stored_at(page: Page, suffix: str, path: str) -> int:
    """When the worker stored its copy of ``path`` (0: none yet)."""
    stamp: int = await page.evaluate(
        f"""async () => {{
            const name = (await caches.keys()).find((n) => n.endsWith(':runtime:{suffix}'));
            const copy = name && await (await caches.open(name)).match({path!r});
            return copy ? Number(copy.headers.get('x-quart-appcache-stored')) : 0;
        }}"""
    )
    return stamp


async def refreshed(page: Page, before: int) -> None:
    """Wait until the copy of /api/notify was stored again after ``before``."""
    await page.evaluate(
        """async (before) => {
            const deadline = Date.now() + 10000;
            while (Date.now() < deadline) {
                const name = (await caches.keys()).find((n) => n.endsWith(':runtime:runtime-7'));
                const copy = name && await (await caches.open(name)).match('/api/notify');
                if (copy && Number(copy.headers.get('x-quart-appcache-stored')) > before) {
                    return true;
                }
                await new Promise((resolve) => setTimeout(resolve, 20));
            }
            throw new Error('the copy was never stored again');
        }""",
        before,
    )


async def test_notify_tells_the_page_when_a_refresh_brought_other_bytes(
    browser: Browser, server: Server
) -> None:
    context = await browser.new_context()
    await context.add_init_script(
        """window.__updated = [];
        window.addEventListener('appcache:runtime-updated', (e) => window.__updated.push(e.detail));"""
    )
    page = await open_controlled(context, server.url + "/")
    await page.evaluate(f"fetch('{server.url}/api/notify/one', {{method: 'POST'}})")
    assert await fetch_json(page, "/api/notify") == {"body": "one"}  # stored, nothing before it
    await refreshed(page, 0)
    # The server's answer changes: the next visit gets the stored copy, and
    # the page hears that the refresh brought other bytes.
    await page.evaluate(f"fetch('{server.url}/api/notify/two', {{method: 'POST'}})")
    before = await stored_at(page, "runtime-7", "/api/notify")
    assert await fetch_json(page, "/api/notify") == {"body": "one"}
    await page.wait_for_function("window.__updated.length === 1", timeout=10_000)
    assert await page.evaluate("window.__updated") == [
        {"url": server.url + "/api/notify", "rule": "runtime-7"}
    ]
    await refreshed(page, before)
    # The same bytes again: no event (the next change's event comes after
    # the refresh of this visit, so a count of 2 proves this one sent none).
    before = await stored_at(page, "runtime-7", "/api/notify")
    assert await fetch_json(page, "/api/notify") == {"body": "two"}
    await refreshed(page, before)
    await page.evaluate(f"fetch('{server.url}/api/notify/three', {{method: 'POST'}})")
    assert await page.evaluate("window.__updated.length") == 1
    assert await fetch_json(page, "/api/notify") == {"body": "two"}
    await page.wait_for_function("window.__updated.length >= 2", timeout=10_000)
    assert len(await page.evaluate("window.__updated")) == 2
    await context.close()


async def test_page_loads_under_a_network_first_rule_use_navigation_preload(
    browser: Browser, server: Server
) -> None:
    context, page = await controlled(browser, server)
    enabled = await page.evaluate(
        "navigator.serviceWorker.ready.then((r) => r.navigationPreload.getState())"
    )
    assert enabled["enabled"] is True
    await page.goto(f"{server.url}/pages/42")
    assert await page.text_content("#title") == "Page 42"
    assert await page.text_content("#preload") == "true"  # the preloaded answer was used
    log = server.wait_for_request("GET /pages/42")
    assert log.count("GET /pages/42") == 1  # answered once, not fetched again
    await context.close()
