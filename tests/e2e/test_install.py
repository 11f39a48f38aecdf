"""The example app is installable: Chromium's own checks, and offline icons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from .browser import ARGS, CHROMIUM, TIMEOUT_MS, wait_controlled
from .servers import copy_example, serve

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.asyncio(loop_scope="session")]


@pytest.mark.parametrize("module", ["app:app", "fastapi_app:app"])
async def test_chromium_finds_the_example_installable_and_its_icons_offline(
    tmp_path: Path, module: str
) -> None:
    root = copy_example(tmp_path / "example")
    with serve(root, module=module) as server:
        async with async_playwright() as playwright:
            # Default contexts are incognito, where Chromium's installability
            # check always answers "in-incognito": a persistent one answers for real.
            context = await playwright.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path=CHROMIUM, args=ARGS, headless=True
            )
            try:
                page = context.pages[0] if context.pages else await context.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                await page.goto(server.url + "/")
                await wait_controlled(page)
                cdp = await context.new_cdp_session(page)
                manifest = await cdp.send("Page.getAppManifest")
                assert manifest["url"] == server.url + "/manifest.webmanifest"
                assert manifest["errors"] == []
                data = json.loads(manifest["data"])
                assert data["display"] == "standalone"
                assert len(data["icons"]) == 3
                installability = await cdp.send("Page.getInstallabilityErrors")
                assert installability["installabilityErrors"] == []
                # A standard PWA audit also wants a viewport and content that fits it.
                viewport = await page.get_attribute('meta[name="viewport"]', "content")
                assert viewport == "width=device-width, initial-scale=1"
                assert await page.evaluate(
                    "document.documentElement.scrollWidth <= window.innerWidth"
                )

                # Offline, the manifest and every icon it lists come from the worker.
                await context.set_offline(True)
                loaded = await page.evaluate(
                    """async () => {
                        const manifest = await (await fetch('/manifest.webmanifest')).json();
                        const base = new URL('/manifest.webmanifest', location.href);
                        const icons = [];
                        for (const icon of manifest.icons) {
                            const response = await fetch(new URL(icon.src, base));
                            icons.push([icon.sizes, response.status,
                                        response.headers.get('content-type'),
                                        (await response.arrayBuffer()).byteLength > 0]);
                        }
                        return icons;
                    }"""
                )
                assert loaded == [
                    ["192x192", 200, "image/png", True],
                    ["512x512", 200, "image/png", True],
                    ["512x512", 200, "image/png", True],
                ]
                touch = await page.eval_on_selector(
                    'link[rel="apple-touch-icon"]', "link => fetch(link.href).then((r) => r.status)"
                )
                assert touch == 200
            finally:
                await context.close()
