"""The service worker in real Chromium: offline, fallback, updates."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page

from .browser import open_controlled, wait_waiting_worker, worker_version
from .servers import copy_example, free_port, serve

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.asyncio(loop_scope="session")]

TRACKED = ["/", "/offline", "/static/css/app.css", "/static/img/logo.svg", "/static/js/app.js"]
# The page client, the web app manifest and the generated icons too.
OWN = [
    "/appcache.js",
    "/manifest.webmanifest",
    *(
        f"/appcache-icons/{name}"
        for name in (
            "icon-192.png",
            "icon-512.png",
            "icon-maskable-512.png",
            "apple-touch-icon.png",
            "favicon-32.png",
        )
    ),
]
PRECACHED = [*TRACKED, *OWN]


async def cache_contents(page: Page) -> dict[str, list[str]]:
    """Every cache of the origin, with the URLs it holds."""
    contents: dict[str, list[str]] = await page.evaluate(
        """async () => {
            const out = {};
            for (const name of await caches.keys()) {
                const cache = await caches.open(name);
                out[name] = (await cache.keys()).map((r) => r.url).sort();
            }
            return out;
        }"""
    )
    return contents


async def assert_full_page(page) -> None:  # type: ignore[no-untyped-def]
    assert await page.text_content("#title") == "Works offline"
    # The stylesheet, the script and the image all came through.
    color = await page.evaluate("getComputedStyle(document.querySelector('h1')).color")
    assert color == "rgb(27, 127, 76)"
    await page.wait_for_selector("#script-status:text('script version')")
    assert await page.evaluate("document.getElementById('logo').naturalWidth") == 64


@pytest.mark.parametrize(
    ("module", "prefix"),
    [
        ("app:app", ""),
        ("fastapi_app:app", ""),
        # hypercorn --root-path /app: the client requests /app/... directly.
        ("app:app", "/app"),
        ("fastapi_app:app", "/app"),
    ],
)
async def test_offline_reload_fallback_and_untouched_posts(
    browser: Browser, tmp_path: Path, module: str, prefix: str
) -> None:
    root = copy_example(tmp_path / "example")
    ready = prefix + "/manifest.appcache"
    with serve(root, module=module, root_path=prefix or None, ready_path=ready) as server:
        base = server.url + prefix
        context = await browser.new_context()
        page = await open_controlled(context, base + "/")
        cached = await page.evaluate(
            """async () => {
                const names = await caches.keys();
                const cache = await caches.open(names.find((name) => name.endsWith('/')));
                return (await cache.keys()).map((r) => new URL(r.url).pathname);
            }"""
        )
        assert sorted(cached) == sorted(prefix + url for url in PRECACHED)

        # Non-GET requests go to the network, untouched by the worker.
        status = await page.evaluate(
            f"fetch('{prefix}/api/echo', {{method: 'POST'}}).then((r) => r.status)"
        )
        assert status == 200

        await context.set_offline(True)
        await page.reload()
        await assert_full_page(page)

        # An uncached page under the FALLBACK prefix shows the fallback.
        await page.goto(base + "/live")
        assert await page.text_content("#title") == "You are offline"

        await context.set_offline(False)
        await page.goto(base + "/live")
        assert await page.text_content("#title") == "Live page"
        await context.close()


async def test_changed_file_is_the_only_download_and_reaches_a_new_page(
    browser: Browser, tmp_path: Path
) -> None:
    waiting = {"APPCACHE_SW_UPDATE": "waiting"}
    root = copy_example(tmp_path / "example")
    port = free_port()
    context = await browser.new_context()
    with serve(root, port=port, env=waiting) as server:
        page = await open_controlled(context, server.url + "/")
        old_version = await worker_version(page)
        first = server.wait_for_request("GET /offline")  # fetched only by the install
        for url in PRECACHED:
            assert [line.split("?")[0] for line in first].count(f"GET {url}") >= 1, (url, first)

    # Deploy a change to one file: a new server on the same origin.
    script = root / "static" / "js" / "app.js"
    script.write_text(script.read_text().replace("script version 1", "script version 2"))
    with serve(root, port=port, env=waiting) as server:
        await page.goto(server.url + "/")
        await wait_waiting_worker(page)
        downloads = [
            line
            for line in server.wait_for_request("GET /static/js/app.js", plain=True)
            if line != "GET /sw.js"
        ]
        # The update check, then exactly the changed entry: nothing else.
        assert [line for line in downloads if line != "GET /manifest.appcache"] == [
            "GET /static/js/app.js"
        ], downloads

        # The old worker keeps the open page; once it is gone, a new page
        # gets the new worker and the new content.
        await page.close()
        page = await open_controlled(context, server.url + "/")
        await page.wait_for_selector("#script-status:text('script version 2')")
        assert await worker_version(page) != old_version

        # Offline, the new content stays.
        await context.set_offline(True)
        await page.reload()
        await page.wait_for_selector("#script-status:text('script version 2')")
    await context.close()


async def test_skip_waiting_takes_over_at_once(browser: Browser, tmp_path: Path) -> None:
    root = copy_example(tmp_path / "example")
    port = free_port()
    env = {"APPCACHE_SW_UPDATE": "immediate"}
    context = await browser.new_context()
    with serve(root, port=port, env=env) as server:
        page = await open_controlled(context, server.url + "/")
        old_version = await worker_version(page)
    css = root / "static" / "css" / "app.css"
    css.write_text(css.read_text().replace("#1b7f4c", "#a26"))
    with serve(root, port=port, env=env) as server:
        new_version = httpx.get(server.url + "/sw.js").text.split('"')[1]
        assert new_version != old_version
        await page.evaluate(
            """() => new Promise((resolve) => {
                navigator.serviceWorker.addEventListener('controllerchange', resolve);
                navigator.serviceWorker.getRegistration().then((r) => r.update());
            })"""
        )
        # The open page is now controlled by the new worker, without closing it.
        assert await worker_version(page) == new_version
        await page.reload()
        color = await page.evaluate("getComputedStyle(document.querySelector('h1')).color")
        assert color == "rgb(170, 34, 102)"
    await context.close()


async def test_a_failed_precache_keeps_the_old_version_in_charge(
    browser: Browser, tmp_path: Path
) -> None:
    root = copy_example(tmp_path / "example")
    port = free_port()
    context = await browser.new_context()
    with serve(root, port=port) as server:
        page = await open_controlled(context, server.url + "/")
        old_version = await worker_version(page)
        before = await cache_contents(page)
    script = root / "static" / "js" / "app.js"
    script.write_text(script.read_text().replace("script version 1", "script version 2"))
    css = root / "static" / "css" / "app.css"
    css.write_text(css.read_text() + "p { margin: 1em; }\n")  # downloads fine
    with serve(root, port=port) as server:
        # The new version lists app.js, but it is gone before any browser
        # fetches it: the new worker's install must fail.
        script.unlink()
        outcome = await page.evaluate(
            """() => navigator.serviceWorker.getRegistration().then((registration) =>
                new Promise((resolve) => {
                    const watch = (worker) => worker && worker.addEventListener('statechange', () => {
                        if (worker.state === 'redundant') resolve('redundant');
                        if (worker.state === 'installed') resolve('installed');
                    });
                    watch(registration.installing);  // an update check may already run
                    registration.addEventListener('updatefound', () => watch(registration.installing));
                    registration.update().catch(() => {});
                    setTimeout(() => resolve('timeout'), 15000);
                }))"""
        )
        assert outcome == "redundant"
        requests = server.wait_for_request("GET /static/js/app.js", plain=True)
        assert "GET /static/css/app.css" in requests
        assert await worker_version(page) == old_version
        # What the failed install fetched (the new stylesheet) is not kept.
        assert await cache_contents(page) == before
    # The server is gone; the old version still works offline, old script included.
    await context.set_offline(True)
    await page.reload()
    await page.wait_for_selector("#script-status:text('script version 1')")
    await context.close()


async def test_range_head_sub_resources_and_posts_offline(browser: Browser, tmp_path: Path) -> None:
    root = copy_example(tmp_path / "example")
    blob = bytes(range(256)) * 4  # a precached binary file, 1 KiB
    (root / "static" / "media").mkdir()
    (root / "static" / "media" / "tone.bin").write_bytes(blob)
    with serve(root) as server:
        context = await browser.new_context()
        page = await open_controlled(context, server.url + "/")
        # A POST is never answered by the worker, online.
        async with page.expect_response("**/api/echo") as posted:
            await page.evaluate("fetch('/api/echo', {method: 'POST'})")
        assert (await posted.value).from_service_worker is False
        async with page.expect_response("**/static/media/tone.bin") as got:
            await page.evaluate("fetch('/static/media/tone.bin')")
        assert (await got.value).from_service_worker is True

        await context.set_offline(True)
        ranged = await page.evaluate(
            """async () => {
                const r = await fetch('/static/media/tone.bin', {headers: {Range: 'bytes=10-13'}});
                const past = await fetch('/static/media/tone.bin', {headers: {Range: 'bytes=5000-'}});
                return {status: r.status, range: r.headers.get('content-range'),
                        bytes: Array.from(new Uint8Array(await r.arrayBuffer())),
                        past: past.status, pastRange: past.headers.get('content-range')};
            }"""
        )
        assert ranged == {
            "status": 206,
            "range": "bytes 10-13/1024",
            "bytes": [10, 11, 12, 13],
            "past": 416,
            "pastRange": "bytes */1024",
        }
        head = await page.evaluate(
            """async () => {
                const r = await fetch('/static/css/app.css', {method: 'HEAD'});
                return {status: r.status, type: r.headers.get('content-type'),
                        body: (await r.text()).length};
            }"""
        )
        assert head == {"status": 200, "type": "text/css; charset=utf-8", "body": 0}
        # An API call under the FALLBACK prefix fails offline: no fallback HTML for it.
        api = await page.evaluate(
            "fetch('/api/items').then((r) => 'answered ' + r.status, () => 'rejected')"
        )
        assert api == "rejected"
        # Offline, a POST is not answered by the worker either: it just fails.
        posted_offline = await page.evaluate(
            "fetch('/api/echo', {method: 'POST'}).then(() => 'answered', () => 'rejected')"
        )
        assert posted_offline == "rejected"
        await context.close()


NETWORK_APP = """
from app import create_app

app = create_app(APPCACHE_NETWORK=["/api/", "http://localhost:{port}/allowed/"])
"""


async def test_network_names_another_origin(browser: Browser, tmp_path: Path) -> None:
    root = copy_example(tmp_path / "example")
    port = free_port()
    (root / "net_app.py").write_text(NETWORK_APP.format(port=port))
    with serve(root, module="net_app:app", port=port) as server:
        context = await browser.new_context()
        page = await open_controlled(context, server.url + "/")
        # http://localhost:PORT is another origin than http://127.0.0.1:PORT.
        outcome = await page.evaluate(
            f"""async () => {{
                const attempt = (url) => fetch(url, {{mode: 'no-cors'}}).then(() => 'ok', () => 'failed');
                return [
                    await attempt('http://localhost:{port}/allowed/x'),
                    await attempt('http://localhost:{port}/other'),
                    await attempt('/api/items'),
                    await attempt('/live'),
                ];
            }}"""
        )
        # /live is under the FALLBACK prefix "/", which lets it through to the network.
        assert outcome == ["ok", "failed", "ok", "ok"]
        assert "GET /allowed/x" in server.wait_for_request("GET /allowed/x")
        assert "GET /other" not in server.requests()
        await context.close()


EXCLUDING_APP = """
import re

from app import create_app

app = create_app(
    APPCACHE_RUNTIME=[],  # (no runtime copy may answer: the fallback alone is tested)
    APPCACHE_FALLBACK_EXCLUDE=["/api/", "/auth/", re.compile(r"^/files/.*[.]pdf$")],
)
"""


async def test_excluded_page_loads_fail_offline_and_others_get_the_fallback(
    browser: Browser, tmp_path: Path
) -> None:
    from playwright.async_api import Error as PlaywrightError

    root = copy_example(tmp_path / "example")
    (root / "excluding_app.py").write_text(EXCLUDING_APP)
    with serve(root, module="excluding_app:app") as server:
        context = await browser.new_context()
        page = await open_controlled(context, server.url + "/")
        await context.set_offline(True)
        for path in ("/api/items", "/auth/callback?code=1", "/files/report.pdf"):
            excluded = await context.new_page()
            with pytest.raises(PlaywrightError, match="net::ERR_"):
                await excluded.goto(server.url + path)
            await excluded.close()
        await page.goto(server.url + "/never-seen")
        assert await page.text_content("#title") == "You are offline"
        # A fetch of the API from a page fails too, never with the page's HTML.
        fetched = await page.evaluate("fetch('/api/items').then(() => 'answered', () => 'failed')")
        assert fetched == "failed"
        await context.close()
