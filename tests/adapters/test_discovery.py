"""add_routes() and the worker's non-pages, read from each framework's route map."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from quart_appcache import FinalizedError, InvalidURLError
from quart_appcache.build import RECORD
from quart_appcache.errors import BuildError
from quart_appcache.site import Site

from ..route_shapes import FASTAPI_PAGES, NON_PAGES, QUART_PAGES, fastapi_app, quart_app
from .test_contract import _command


class Shapes:
    """One framework's app of every route shape, and what it offers the tests."""

    def __init__(self, framework: str, root: Path, **settings: Any) -> None:
        self.framework = framework
        self.root = root
        if framework == "quart":
            config = {f"APPCACHE_{key.upper()}": value for key, value in settings.items()}
            self.app: Any = quart_app(root, **config)
            self.appcache: Any = self.app.extensions["appcache"]
            self.calls = self.app.config["CALLS"]
            self.pages = QUART_PAGES
            self.static = [
                "/static/app.js",
                "/static/vendor.3f9a1c2b.js",
                "/shop/shop_static/shop.css",
            ]
        else:
            self.app = fastapi_app(root, **settings)
            self.appcache = self.app.state.appcache
            self.calls = self.app.state.calls
            self.pages = FASTAPI_PAGES
            self.static = ["/static/app.js", "/static/vendor.3f9a1c2b.js"]

    @property
    def site(self) -> Site:
        return self.appcache.site(self.app)  # type: ignore[no-any-return]

    def add_json_route(self, path: str) -> None:
        """A route answering JSON, added after add_routes()."""
        if self.framework == "quart":
            self.app.add_url_rule(path, path, _quart_json)
        else:

            @self.app.get(path)
            async def more() -> dict[str, int]:
                return {"more": 1}

    def add_page_route(self, path: str) -> None:
        if self.framework == "quart":
            self.app.add_url_rule(path, path, _quart_page)
        else:
            from fastapi.responses import HTMLResponse

            @self.app.get(path, response_class=HTMLResponse)
            async def page() -> str:
                return "<h1>late</h1>"

    async def get(self, path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return await http.get(path)


async def _quart_json() -> Any:
    return {"more": 1}


async def _quart_page() -> str:
    return "<h1>late</h1>"


def non_pages(sw: str) -> dict[str, Any]:
    """The worker's FALLBACK_EXCLUDE, as the generated script holds it."""
    match = re.search(r"^const FALLBACK_EXCLUDE = (.*);$", sw, re.MULTILINE)
    assert match, "no FALLBACK_EXCLUDE in the worker"
    parsed: dict[str, Any] = json.loads(match.group(1))
    return parsed


@pytest.fixture(params=["quart", "fastapi"])
def shapes(request: pytest.FixtureRequest, tmp_path: Path) -> Shapes:
    return Shapes(request.param, tmp_path)


async def test_add_routes_lists_exactly_the_pages(shapes: Shapes) -> None:
    frozen = await shapes.site.finalize()
    assert list(shapes.appcache.urls) == [*shapes.pages, *shapes.static]
    assert list(frozen.snapshot.discovery.pages) == shapes.pages
    # Each page was rendered once: the render that found it is its entry's.
    assert shapes.calls["/"] == shapes.calls["/about"] == 1
    # What FastAPI says answers JSON is never rendered; Quart must render it.
    assert shapes.calls["/api/items"] == (1 if shapes.framework == "quart" else 0)
    excluded = non_pages(frozen.artifacts["sw"].body.decode())
    patterns = [source for source, _flags in excluded["patterns"]]
    assert set(NON_PAGES) <= set(patterns)
    # Pages, personal or broken pages, and pages with parameters still get the fallback.
    for path in ("/", "/account", "/broken", "/items/7", "/never-routed"):
        assert not any(re.search(p, path) for p in patterns), path
    if shapes.framework == "fastapi":
        # Mounted apps that are not the bundle's static files: an API, downloads.
        assert excluded["prefixes"] == ["/files/", "/sub/"]
        assert {"^/docs$", "^/openapi\\.json$"} <= set(patterns)
    else:
        assert excluded["prefixes"] == []


async def test_what_is_left_out_is_logged_at_debug_level(
    shapes: Shapes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="quart_appcache"):
        await shapes.site.finalize()
    left_out = {
        record.getMessage().split("'")[1]: record.getMessage()
        for record in caplog.records
        if "add_routes() left out" in record.getMessage()
    }
    assert "redirects" in left_out["/auth/callback"]
    assert "Set-Cookie" in left_out["/account"]
    assert "RuntimeError" in left_out["/broken"]
    assert all(
        record.levelno == logging.DEBUG
        for record in caplog.records
        if "add_routes()" in record.getMessage()
    )


async def test_exclude_and_routes_added_after_the_call(tmp_path: Path) -> None:
    for framework in ("quart", "fastapi"):
        shapes = Shapes(framework, tmp_path / framework)
        shapes.appcache.add_routes(exclude=["/ab"])  # a second call: its own exclusions
        shapes.add_page_route("/late")
        shapes.add_json_route("/late.json")
        await shapes.site.finalize()
        urls = list(shapes.appcache.urls)
        assert "/late" in urls, framework
        assert "/late.json" not in urls, framework
        assert "/about" in urls  # the first call has no exclusions


async def test_an_excluded_prefix_leaves_routes_out(tmp_path: Path) -> None:
    from quart import Quart

    from quart_appcache import Appcache

    app = Quart("excluding", root_path=str(tmp_path))
    for path in ("/", "/admin", "/admin/users", "/blog"):
        app.add_url_rule(path, path, _quart_page)
    appcache = Appcache(app)
    appcache.add_routes(exclude=["/admin"])
    await appcache.finalize()
    assert appcache.urls == ("/", "/blog")


def test_bad_exclusions_are_refused(tmp_path: Path) -> None:
    shapes = Shapes("quart", tmp_path)
    with pytest.raises(InvalidURLError, match=r"add_routes\(exclude='/admin'\) takes a list"):
        shapes.appcache.add_routes(exclude="/admin")
    with pytest.raises(
        InvalidURLError,
        match=r"'admin' from add_routes\(exclude=...\): a URL prefix must start with '/'",
    ):
        shapes.appcache.add_routes(exclude=["admin"])


async def test_add_routes_after_finalize_is_refused(shapes: Shapes) -> None:
    await shapes.site.finalize()
    with pytest.raises(FinalizedError, match=r"add_routes\(\) was called after finalize"):
        shapes.appcache.add_routes()


async def test_network_paths_and_the_extensions_urls_are_never_added(tmp_path: Path) -> None:
    shapes = Shapes("quart", tmp_path, network=["/about"])
    await shapes.site.finalize()
    assert "/about" not in shapes.appcache.urls
    assert shapes.calls["/about"] == 0  # not even rendered
    sw = (await shapes.get("/sw.js")).text
    assert "/about" in non_pages(sw)["prefixes"]
    assert not any(url.startswith(("/sw.js", "/appcache")) for url in shapes.appcache.urls)


async def test_debug_mode_reads_the_route_map_again_only_when_it_changed(tmp_path: Path) -> None:
    shapes = Shapes("quart", tmp_path)
    await shapes.appcache.hash()
    await shapes.appcache.hash()
    # The JSON route was rendered once to find it is not a page; pages are
    # rendered on every computation, as every view is in debug mode.
    assert shapes.calls["/api/items"] == 1
    shapes.add_page_route("/late")
    version_before = (await shapes.appcache.hash())[0]
    assert "/late" in [url for url, _ in await shapes.appcache.entries()]
    assert shapes.calls["/api/items"] == 2
    assert version_before == (await shapes.appcache.hash())[0]


async def test_a_build_keeps_the_discovery_and_is_refused_when_the_routes_changed(
    shapes: Shapes, tmp_path: Path
) -> None:
    from quart_appcache.cli import run_build

    out = tmp_path / "build"
    site = shapes.site
    command = _command(lambda: run_build(site, str(out), False))
    result = await asyncio.to_thread(CliRunner().invoke, command)
    assert result.exit_code == 0, result.output
    record = json.loads((out / RECORD).read_text())
    assert record["format"] == 4
    assert record["pages"] == shapes.pages
    assert set(NON_PAGES) <= set(record["non_pages"]["patterns"])

    # Served as built by an app whose routes are the same...
    again = Shapes(shapes.framework, shapes.root, build_dir=str(out))
    await again.site._freeze(again.site._load_build)
    assert list(again.appcache.urls) == [*shapes.pages, *shapes.static]
    # ...refused by one with a new JSON route (the built worker would give it the fallback).
    changed = Shapes(shapes.framework, shapes.root, build_dir=str(out))
    changed.add_json_route("/api/more")
    with pytest.raises(BuildError, match=r"the routes that are not pages changed.*\^/api/more\$"):
        await changed.site._freeze(changed.site._load_build)
    # The files check cannot render: it takes the pages the build found.
    files = Shapes(shapes.framework, shapes.root, build_dir=str(out), build_check="files")
    files.add_json_route("/api/more")
    await files.site._freeze(files.site._load_build)
    assert list(files.appcache.urls) == [*shapes.pages, *shapes.static]
    assert files.calls["/"] == 0


async def test_show_marks_where_each_url_came_from_and_lists_the_non_pages(
    shapes: Shapes,
) -> None:
    from quart_appcache.cli import run_show

    shapes.appcache.add_urls("/items/7")
    site = shapes.site
    result = await asyncio.to_thread(CliRunner().invoke, _command(lambda: run_show(site, False)))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["URL", "SIZE", "FROM", "REVISION"]
    origins = {line.split()[0]: line.split()[3] for line in lines[1:] if line.startswith("/")}
    assert origins["/"] == origins["/about"] == "discovered"
    assert origins["/items/7"] == "declared"
    assert origins["/static/app.js"] == "static"
    assert origins["/appcache.js"] == "extension"
    tail = lines[lines.index("page loads that never get the fallback page (not pages):") :]
    for pattern in NON_PAGES:
        assert f"  matching /{pattern}/" in tail
