"""The documented Workbox recipe (docs/service-worker.md), with real Workbox from npm, in Chromium."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from playwright.async_api import Browser

from .browser import open_controlled, wait_waiting_worker
from .npm_packages import workbox_files
from .servers import REPO, copy_example, free_port, serve
from .test_browser import PRECACHED, cache_contents

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.asyncio(loop_scope="session")]


def readme_recipe() -> str:
    """The recipe's worker template, exactly as the documentation gives it."""
    readme = (REPO / "docs" / "service-worker.md").read_text()
    after = readme.split("Write `templates/workbox-sw.js`:", 1)[1]
    block = after.split("```js\n", 1)[1].split("```", 1)[0]
    return textwrap.dedent(block)


WORKBOX_APP = """
from app import appcache, create_app

app = create_app(APPCACHE_SW_TEMPLATE="workbox-sw.js")
appcache.add_excluded_urls("/static/workbox/")  # Workbox need not precache itself
"""


async def test_the_workbox_recipe_works_offline_and_downloads_only_what_changed(
    browser: Browser, tmp_path: Path
) -> None:
    root = copy_example(tmp_path / "example")
    (root / "static" / "workbox").mkdir()
    for path in workbox_files():
        shutil.copy(path, root / "static" / "workbox" / path.name)
    (root / "templates" / "workbox-sw.js").write_text(readme_recipe())
    (root / "workbox_app.py").write_text(WORKBOX_APP)
    port = free_port()
    context = await browser.new_context()
    with serve(root, module="workbox_app:app", port=port) as server:
        page = await open_controlled(context, server.url + "/")
        caches = await cache_contents(page)
        [precache] = [name for name in caches if name.startswith("workbox-precache")]
        urls = sorted(url.split("?")[0].removeprefix(server.url) for url in caches[precache])
        assert urls == sorted(PRECACHED)
        assert not any("/static/workbox/" in url for url in caches[precache])
        await context.set_offline(True)
        await page.reload()
        assert await page.text_content("#title") == "Works offline"
        await page.goto(server.url + "/offline")
        assert await page.text_content("#title") == "You are offline"
        # An uncached page under the FALLBACK prefix gets the fallback page.
        await page.goto(server.url + "/live")
        assert await page.text_content("#title") == "You are offline"
        await context.set_offline(False)

    css = root / "static" / "css" / "app.css"
    css.write_text(css.read_text().replace("#1b7f4c", "#a26"))
    with serve(root, module="workbox_app:app", port=port) as server:
        await page.goto(server.url + "/")
        await wait_waiting_worker(page)
        downloads = [
            line
            for line in server.wait_for_request("GET /static/css/app.css")
            if not line.startswith(("GET /sw.js", "GET /static/workbox/", "GET /manifest.appcache"))
        ]
        # Exactly the changed entry (the page itself came from the precache;
        # Workbox adds its revision parameter to the download).
        assert [line.split("?")[0] for line in downloads] == ["GET /static/css/app.css"], downloads
        # workbox-window's messageSkipWaiting() activates the waiting worker.
        await page.evaluate(
            """() => new Promise((resolve) => {
                navigator.serviceWorker.addEventListener('controllerchange', () => resolve(true));
                navigator.serviceWorker.getRegistration().then(
                    (registration) => registration.waiting.postMessage({type: 'SKIP_WAITING'}));
            })"""
        )
    await context.close()
