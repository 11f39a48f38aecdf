"""Pinned versions in real Chromium: a deploy never breaks an open tab.

Two tabs on version 1, then version 2 is deployed (its script and a lazily
fetched module change). Counting what the server served and what each page
saw: the old tab keeps version 1's bytes (also after the browser stopped the
worker), a new tab gets version 2, applyUpdate() reloads only its own tab,
and version 1's entries go once no page runs it. Both adapters.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page

from .browser import RECORD_EVENTS, TIMEOUT_MS, open_controlled, stop_workers, wait_event
from .servers import Server, copy_example, free_port, serve
from .test_updates import count_navigations, sw_version

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.asyncio(loop_scope="session")]

LAZY = "/static/js/lazy.js"


async def lazy(page: Page) -> str:
    """What the page gets when it loads its lazy module now."""
    text: str = await page.evaluate(f"fetch({LAZY!r}).then((r) => r.text())")
    return text


def lazy_downloads(server: Server) -> int:
    return server.requests(plain=True).count(f"GET {LAZY}")


def revision(base: str, url: str) -> str:
    entries = httpx.get(base + "/precache-manifest.json").json()
    found: str = next(e["revision"] for e in entries if e["url"] == url)
    return found


async def stored_keys(page: Page) -> list[str]:
    keys: list[str] = await page.evaluate(
        """async () => {
            const name = (await caches.keys()).find((n) => n.endsWith('/'));
            return (await (await caches.open(name)).keys()).map((r) => r.url);
        }"""
    )
    return keys


@pytest.mark.parametrize("module", ["app:app", "fastapi_app:app"])
async def test_an_open_tab_keeps_its_version_and_a_new_tab_gets_the_new_one(
    browser: Browser, tmp_path: Path, module: str
) -> None:
    root = copy_example(tmp_path / "example")
    (root / "static" / "js" / "lazy.js").write_text("lazy version 1\n")
    port = free_port()
    context = await browser.new_context()
    await context.add_init_script(RECORD_EVENTS)
    with serve(root, module=module, port=port) as server:
        first = sw_version(server.url)
        old_lazy = revision(server.url, LAZY)
        tab_a = await open_controlled(context, server.url + "/")
        tab_b = await open_controlled(context, server.url + "/offline")
        assert await tab_a.evaluate("window.appcache.version()") == first
        assert await lazy(tab_a) == "lazy version 1\n"

    (root / "static" / "js" / "lazy.js").write_text("lazy version 2\n")
    script = root / "static" / "js" / "app.js"
    script.write_text(script.read_text().replace("script version 1", "script version 2"))
    with serve(root, module=module, port=port) as server:
        second = sw_version(server.url)
        assert second != first
        navigations_a, navigations_b = count_navigations(tab_a), count_navigations(tab_b)
        assert await tab_a.evaluate("window.appcache.update()") is True
        # Version 2 took over at once; each old tab hears of it and keeps version 1.
        assert await wait_event(tab_a, "update-ready") == {"version": second}
        assert await wait_event(tab_b, "update-ready") == {"version": second}
        downloaded = lazy_downloads(server)
        assert downloaded == 1  # by version 2's install
        assert await lazy(tab_a) == "lazy version 1\n"
        assert await tab_a.evaluate("window.appcache.version()") == first
        # The browser stops the idle worker: the pin survives its restart.
        await stop_workers(tab_a)
        assert await lazy(tab_b) == "lazy version 1\n"
        assert lazy_downloads(server) == downloaded  # from the cache, the server not asked

        # A new tab gets version 2 for everything.
        tab_c = await open_controlled(context, server.url + "/")
        await tab_c.wait_for_selector("#script-status:text('script version 2')")
        assert await lazy(tab_c) == "lazy version 2\n"
        assert await tab_c.evaluate("window.appcache.version()") == second

        # applyUpdate() reloads A, once, onto version 2; B is left alone.
        assert await tab_a.evaluate("window.appcache.applyUpdate()") is True
        await tab_a.wait_for_selector("#script-status:text('script version 2')")
        assert navigations_a == [server.url + "/"]
        assert await tab_a.evaluate("window.appcache.version()") == second
        assert await lazy(tab_a) == "lazy version 2\n"
        assert navigations_b == []
        assert await tab_b.evaluate("window.appcache.version()") == first
        assert await lazy(tab_b) == "lazy version 1\n"
        old_key = f"{server.url}{LAZY}?__appcache_revision={old_lazy}"
        assert old_key in await stored_keys(tab_c)  # B still runs version 1

        # B closes: no page runs version 1 any more, and its entries go.
        await tab_b.close()
        deadline = asyncio.get_running_loop().time() + TIMEOUT_MS / 1000
        while old_key in await stored_keys(tab_c):
            assert asyncio.get_running_loop().time() < deadline, "version 1 was kept"
            await asyncio.sleep(0.1)
        assert await lazy(tab_c) == "lazy version 2\n"
        assert lazy_downloads(server) == downloaded
    await context.close()
