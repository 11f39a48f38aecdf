"""Updates people can see and trust, in real Chromium: events, one-click update,
verified bytes, the kill switch, tracking parameters, a strict CSP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page

from .browser import (
    RECORD_EVENTS,
    TIMEOUT_MS,
    events,
    open_controlled,
    wait_event,
    wait_prompt,
    wait_unregistered,
    worker_version,
)
from .servers import copy_example, free_port, serve
from .test_browser import cache_contents

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.asyncio(loop_scope="session")]


def sw_version(base: str) -> str:
    return httpx.get(base + "/sw.js").text.split('const VERSION = "', 1)[1].split('"', 1)[0]


def count_navigations(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("framenavigated", lambda frame: frame.parent_frame is None and seen.append(frame.url))
    return seen


async def new_page(context, url: str) -> Page:  # type: ignore[no-untyped-def]
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(url)
    return page


async def test_offline_ready_then_a_one_click_update_with_one_reload_per_tab(
    browser: Browser, tmp_path: Path
) -> None:
    # APPCACHE_SW_UPDATE = "waiting": the new version waits for applyUpdate().
    waiting = {"APPCACHE_SW_UPDATE": "waiting"}
    root = copy_example(tmp_path / "example")
    port = free_port()
    context = await browser.new_context()
    await context.add_init_script(RECORD_EVENTS)
    with serve(root, port=port, env=waiting) as server:
        first = sw_version(server.url)
        page = await new_page(context, server.url + "/")
        assert await wait_event(page, "offline-ready") == {"version": first}
        await wait_prompt(page, "Ready to work offline.")  # the example's prompt
        assert await page.evaluate("window.appcache.version()") == first
        # A later visit: already offline-ready, no event again.
        await page.reload()
        await page.wait_for_function("window.appcache.state.status === 'offline-ready'")
        assert await events(page) == []
        assert await page.evaluate("window.appcache.update()") is False  # nothing new

    script = root / "static" / "js" / "app.js"
    script.write_text(script.read_text().replace("script version 1", "script version 2"))
    with serve(root, port=port, env=waiting) as server:
        second = sw_version(server.url)
        assert second != first
        assert await page.evaluate("window.appcache.update()") is True
        assert await wait_event(page, "update-ready") == {"version": second}
        await wait_prompt(page, "A new version is available.")
        assert await page.is_visible("appcache-prompt .reload")
        # A second tab on the old version learns of the waiting version too.
        other = await new_page(context, server.url + "/offline")
        assert await wait_event(other, "update-ready") == {"version": second}
        navigations = count_navigations(page)
        other_navigations = count_navigations(other)

        await page.click("appcache-prompt .reload")  # window.appcache.applyUpdate()
        await page.wait_for_selector("#script-status:text('script version 2')")
        await other.wait_for_function(
            f"window.appcache.version().then((v) => window.__v = v) && window.__v === {second!r}"
        )
        assert await page.evaluate("window.appcache.version()") == second
        # Exactly one reload here, at most one in the other tab, and no loop:
        # another update check changes nothing.
        assert navigations == [server.url + "/"]
        assert len(other_navigations) <= 1
        assert await page.evaluate("window.appcache.update()") is False
        assert await other.evaluate("window.appcache.update()") is False
        assert navigations == [server.url + "/"]
        assert len(other_navigations) <= 1
        assert await page.evaluate("performance.getEntriesByType('navigation')[0].type") == "reload"
    await context.close()


async def test_other_bytes_than_hashed_fail_the_update_and_the_old_version_stays(
    browser: Browser, tmp_path: Path
) -> None:
    root = copy_example(tmp_path / "example")
    port = free_port()
    context = await browser.new_context()
    await context.add_init_script(RECORD_EVENTS)
    with serve(root, port=port) as server:
        page = await open_controlled(context, server.url + "/")
        old_version = await worker_version(page)
        before = await cache_contents(page)
    css = root / "static" / "css" / "app.css"
    css.write_text(css.read_text().replace("#1b7f4c", "#a26"))
    with serve(root, port=port) as server:
        new_version = sw_version(server.url)
        # After the server hashed it, the stylesheet changes on disk: the
        # browser is handed other bytes than the version lists (a stale CDN).
        css.write_text(css.read_text().replace("#a26", "#62a"))
        assert await page.evaluate("window.appcache.update()") is False
        detail = await wait_event(page, "update-failed")
        assert detail["version"] == new_version
        assert detail["url"] == "/static/css/app.css"
        assert str(detail["reason"]).startswith("the content does not match its revision")
        assert await page.evaluate("window.appcache.state.status") == "failed"
        # The one retry, bypassing every cache, reached the server.
        log = server.wait_for_request("GET /static/css/app.css")
        retries = [
            line for line in log if line.startswith("GET /static/css/app.css?__appcache_retry=")
        ]
        assert len(retries) == 1, log
        assert await worker_version(page) == old_version
        assert await cache_contents(page) == before
    await context.set_offline(True)
    await page.reload()
    color = await page.evaluate("getComputedStyle(document.querySelector('h1')).color")
    assert color == "rgb(27, 127, 76)"  # the old version's bytes, still served offline
    await context.close()


FLAKY_APP = """
from quart import request

from app import appcache, create_app

app = create_app()


@app.route("/flaky")
async def flaky():
    # Fine when rendered in-process, 500 for a browser: a broken backend
    # behind the same URL.
    if "Mozilla" in request.headers.get("User-Agent", ""):
        return "upstream down", 500
    return "fine"


appcache.add_urls("/flaky")
"""


async def test_an_entry_answering_500_fails_the_first_install_with_the_status(
    browser: Browser, tmp_path: Path
) -> None:
    root = copy_example(tmp_path / "example")
    (root / "flaky_app.py").write_text(FLAKY_APP)
    context = await browser.new_context()
    await context.add_init_script(RECORD_EVENTS)
    with serve(root, module="flaky_app:app") as server:
        page = await new_page(context, server.url + "/")
        detail = await wait_event(page, "update-failed")
        assert detail == {
            "version": sw_version(server.url),
            "url": "/flaky",
            "reason": "answered 500",
        }
        assert "An update failed (/flaky: answered 500)" in (
            await page.text_content("#offline-status") or ""
        )
        assert await page.evaluate("navigator.serviceWorker.controller") is None
        assert await cache_contents(page) == {}
    await context.close()


CSP_APP = """
from app import create_app

app = create_app()


@app.after_request
async def strict(response):
    response.headers["Content-Security-Policy"] = "script-src 'self'"
    return response
"""


async def test_under_script_src_self_it_registers_and_works_offline_tracking_params_too(
    browser: Browser, tmp_path: Path
) -> None:
    root = copy_example(tmp_path / "example")
    (root / "csp_app.py").write_text(CSP_APP)
    context = await browser.new_context()
    await context.add_init_script(RECORD_EVENTS)
    with serve(root, module="csp_app:app") as server:
        page = await new_page(context, server.url + "/")
        csp = (await page.request.get(server.url + "/")).headers["content-security-policy"]
        assert csp == "script-src 'self'"
        await wait_event(page, "offline-ready")
        await context.set_offline(True)
        await page.reload()
        assert await page.text_content("#title") == "Works offline"
        # A precached page with tracking parameters comes from the precache.
        await page.goto(server.url + "/?utm_source=newsletter&fbclid=x")
        assert await page.text_content("#title") == "Works offline"
    await context.close()


async def test_the_kill_switch_retires_the_worker_and_its_caches(
    browser: Browser, tmp_path: Path
) -> None:
    root = copy_example(tmp_path / "example")
    port = free_port()
    context = await browser.new_context()
    with serve(root, port=port) as server:
        page = await open_controlled(context, server.url + "/")
        assert await cache_contents(page) != {}
    with serve(
        root, port=port, env={"APPCACHE_SW_UNREGISTER": "1"}, ready_path="/appcache.js"
    ) as server:
        assert httpx.get(server.url + "/manifest.appcache").status_code == 410
        assert httpx.get(server.url + "/precache-manifest.json").status_code == 410
        navigations = count_navigations(page)
        await page.goto(server.url + "/")  # one navigation; the browser checks for updates
        await wait_unregistered(page)
        await page.wait_for_load_state()
        await page.wait_for_function("navigator.serviceWorker.controller === null")
        assert await cache_contents(page) == {}
        assert len(navigations) <= 2  # ours, and the one reload the kill switch does
        assert await page.text_content("#title") == "Works offline"  # from the network now
    await context.close()
