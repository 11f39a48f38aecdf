"""Hardening in real Chromium: public precache downloads, a kill switch that
spares its neighbours, Workbox's skip-waiting message, and a failed store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

import quart_appcache

from .browser import RECORD_EVENTS, open_controlled, wait_event, worker_version
from .servers import free_port, serve
from .test_browser import cache_contents

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.asyncio(loop_scope="session")]

# Two Quart apps on one origin: "a" at the root, "b" under /b. The
# environment picks each phase: RELEASE changes the pages, KILL turns on a's
# kill switch, FAIL_PUTS gives a a worker whose Cache.put hits a full quota.
APP = """
import os
from pathlib import Path

from hypercorn.middleware.dispatcher import AsyncioDispatcherMiddleware
from quart import Quart, redirect, render_template_string, request

from quart_appcache import Appcache

PAGE = '''<!doctype html><html><head>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">{{ appcache_head() }}</head>
<body><h1 id="title">{{ title }}</h1><p id="greeting">Hello, {{ user }}</p></body></html>'''


def make(name):
    app = Quart(name, root_path=str(Path(__file__).parent))
    app.config["APPCACHE_SW_UNREGISTER"] = name == "a" and bool(os.environ.get("KILL"))
    # (These tests drive a waiting version by hand.)
    app.config["APPCACHE_SW_UPDATE"] = "waiting"
    if name == "a" and os.environ.get("FAIL_PUTS"):
        app.config["APPCACHE_SW_TEMPLATE"] = "failing-sw.js"
    appcache = Appcache(app)

    @app.route("/login")
    async def login():
        response = redirect(request.root_path + "/")
        response.set_cookie("user", request.args["user"])
        return response

    @app.route("/")
    async def index():
        # Greets whoever the cookie names: a page that differs per person.
        title = f"app {name}, release {os.environ.get('RELEASE', '1')}"
        user = request.cookies.get("user", "guest")
        return await render_template_string(PAGE, title=title, user=user)

    appcache.add_urls("/")
    return app


app = AsyncioDispatcherMiddleware({"/b": make("b"), "": make("a")})
"""

# A test worker: the real one, with a storage quota that is full for it.
FAILING_SW = """\
const realPut = Cache.prototype.put;
Cache.prototype.put = function () {
  return Promise.reject(new DOMException('the quota is full', 'QuotaExceededError'));
};
{% include "real-sw.js" %}
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "apps"
    (root / "templates").mkdir(parents=True)
    (root / "hard_app.py").write_text(APP)
    (root / "templates" / "failing-sw.js").write_text(FAILING_SW)
    packaged = Path(quart_appcache.__file__).parent / "templates" / "sw.js"
    shutil.copy(packaged, root / "templates" / "real-sw.js")
    return root


def run(root: Path, port: int, **env: str):  # type: ignore[no-untyped-def]
    return serve(root, module="hard_app:app", port=port, env=env)


async def cached_body(page: Page, path: str) -> str:
    """The precached body of ``path`` (its URL without the revision parameter)."""
    body: str = await page.evaluate(
        """async (path) => {
            for (const name of await caches.keys()) {
                const cache = await caches.open(name);
                for (const request of await cache.keys()) {
                    if (new URL(request.url).pathname === path) {
                        return (await cache.match(request)).text();
                    }
                }
            }
            return null;
        }""",
        path,
    )
    return body


async def test_the_precache_holds_the_anonymous_page_not_the_logged_in_one(
    browser: Browser, root: Path
) -> None:
    port = free_port()
    context = await browser.new_context()
    with run(root, port) as server:
        # Log in, then install.
        page = await open_controlled(context, server.url + "/login?user=Ada")
        assert await page.text_content("#greeting") == "Hello, Ada"  # the network's answer
        server.wait_for_request("GET /")
        assert "Hello, guest" in await cached_body(page, "/")
        assert "Ada" not in await cached_body(page, "/")
        # Log out: the next person on this browser never sees Ada's page,
        # online or offline.
        await context.clear_cookies()
        await page.reload()
        assert await page.text_content("#greeting") == "Hello, guest"
        await context.set_offline(True)
        await page.reload()
        assert await page.text_content("#greeting") == "Hello, guest"
        # Why finalize refuses a view answering 'Vary: *': this browser's cache
        # refuses to store such an answer, so every install would fail.
        refused = await page.evaluate(
            """() => caches.open('vary-star').then((cache) => cache.put(
                '/vary', new Response('x', {headers: {Vary: '*'}}))).then(
                () => 'stored', (error) => error.name)"""
        )
        assert refused == "TypeError"
    await context.close()


async def test_the_kill_switch_of_the_root_app_spares_the_app_under_b(
    browser: Browser, root: Path
) -> None:
    port = free_port()
    context = await browser.new_context()
    with run(root, port) as server:
        b_page = await open_controlled(context, server.url + "/b/")
        assert await b_page.text_content("#title") == "app b, release 1"
        await open_controlled(context, server.url + "/")
        names = set(await cache_contents(b_page))
        a_cache, b_cache = f"quart-appcache:{server.url}/", f"quart-appcache:{server.url}/b/"
        assert {a_cache, b_cache} <= names
    with run(root, port, KILL="1") as server:
        # The root app's worker checks for an update and gets the kill switch.
        await b_page.evaluate(
            "navigator.serviceWorker.getRegistration('/').then((r) => r.update())"
        )
        # (wait_for_function does not wait for a promise: the loop runs in the page.)
        await b_page.evaluate(
            """async (aCache) => {
                const deadline = Date.now() + 20000;
                while (Date.now() < deadline) {
                    const registrations = await navigator.serviceWorker.getRegistrations();
                    const rootGone = !registrations.some(
                        (r) => new URL(r.scope).pathname === '/');
                    if (rootGone && !(await caches.keys()).includes(aCache)) { return true; }
                    await new Promise((resolve) => setTimeout(resolve, 100));
                }
                throw new Error('the root app was not removed');
            }""",
            a_cache,
        )
        assert b_cache in await cache_contents(b_page)
    # The app under /b still works offline.
    await context.set_offline(True)
    await b_page.reload()
    assert await b_page.text_content("#title") == "app b, release 1"
    await context.close()


async def test_workbox_windows_skip_waiting_message_activates_the_waiting_worker(
    browser: Browser, root: Path
) -> None:
    port = free_port()
    context = await browser.new_context()
    with run(root, port) as server:
        page = await open_controlled(context, server.url + "/")
        first = await worker_version(page)
    with run(root, port, RELEASE="2") as server:
        page_waiting = await page.evaluate(
            """() => navigator.serviceWorker.getRegistration().then((registration) =>
                registration.update().then(() => new Promise((resolve, reject) => {
                    const deadline = Date.now() + 15000;
                    (function poll() {
                        if (registration.waiting) { resolve(true); return; }
                        if (Date.now() > deadline) { reject(new Error('no waiting worker')); return; }
                        setTimeout(poll, 100);
                    })();
                })))"""
        )
        assert page_waiting is True
        # What workbox-window's messageSkipWaiting() posts: the worker takes
        # over, and the page reloads once, as with applyUpdate().
        async with page.expect_navigation():
            await page.evaluate(
                """() => navigator.serviceWorker.getRegistration().then(
                    (registration) => registration.waiting.postMessage({type: 'SKIP_WAITING'}))"""
            )
        second = await worker_version(page)
        assert second != first
        assert await page.text_content("#title") == "app a, release 2"
    await context.close()


async def test_an_update_that_cannot_store_its_entries_leaves_the_old_version_in_charge(
    browser: Browser, root: Path
) -> None:
    port = free_port()
    context = await browser.new_context()
    await context.add_init_script(RECORD_EVENTS)
    with run(root, port) as server:
        page = await open_controlled(context, server.url + "/")
        first = await worker_version(page)
        before = await cache_contents(page)
    with run(root, port, RELEASE="2", FAIL_PUTS="1") as server:
        assert await page.evaluate("window.appcache.update()") is False
        detail = await wait_event(page, "update-failed")
        assert detail["url"] == "/"
        assert str(detail["reason"]).startswith(
            "it could not be stored (QuotaExceededError: the quota is full)"
        )
        assert await worker_version(page) == first
        # Nothing half-stored, no staging cache: the caches are as they were.
        assert await cache_contents(page) == before
        await context.set_offline(True)
        await page.reload()
        assert await page.text_content("#title") == "app a, release 1"
    await context.close()
