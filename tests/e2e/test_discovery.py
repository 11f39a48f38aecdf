"""add_routes() in real Chromium: offline, page loads of non-pages fail, others get the
fallback; hashed file names are downloaded as they are. Both adapters under hypercorn."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError

from .browser import open_controlled
from .servers import REPO, serve

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.asyncio(loop_scope="session")]

MODULE = """
import sys
from pathlib import Path

sys.path.insert(0, {repo!r})
from tests.route_shapes import {factory}

app = {factory}(Path(__file__).parent)
"""


@pytest.mark.parametrize("factory", ["quart_app", "fastapi_app"])
async def test_offline_non_pages_fail_and_unknown_pages_get_the_fallback(
    browser: Browser, tmp_path: Path, factory: str
) -> None:
    (tmp_path / "shapes_app.py").write_text(MODULE.format(repo=str(REPO), factory=factory))
    with serve(tmp_path, module="shapes_app:app", ready_path="/sw.js") as server:
        context = await browser.new_context()
        page = await open_controlled(context, server.url + "/")
        # The hashed name came as it is, the plain one with its revision.
        entries = httpx.get(server.url + "/precache-manifest.json").json()
        revision = next(e["revision"] for e in entries if e["url"] == "/static/app.js")
        server.wait_for_request(f"GET /static/app.js?__appcache_revision={revision}")
        requests = server.wait_for_request("GET /static/vendor.3f9a1c2b.js")
        assert "GET /static/vendor.3f9a1c2b.js" in requests
        assert not any(line.startswith("GET /static/vendor.3f9a1c2b.js?") for line in requests)
        assert "GET /static/app.js" not in requests
        assert f"GET /static/app.js?__appcache_revision={revision}" in requests

        await context.set_offline(True)
        for path in ("/api/items", "/download", "/auth/callback?code=1"):
            other = await context.new_page()
            with pytest.raises(PlaywrightError, match="net::ERR_"):
                await other.goto(server.url + path)
            await other.close()
        # Pages the worker did not precache still get the fallback page.
        for path in ("/never-routed", "/items/7", "/account"):
            await page.goto(server.url + path)
            assert await page.text_content("#title") == "You are offline", path
        await page.goto(server.url + "/about")
        assert await page.text_content("#title") == "About"  # discovered, precached
        fetched = await page.evaluate("fetch('/api/items').then(() => 'answered', () => 'failed')")
        assert fetched == "failed"
        await context.close()
