"""URL prefixes a client chooses (``Mount("/{tenant}", app)``): right bytes for
every prefix, bounded memory, and no render per new prefix."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from quart_appcache import render as render_module
from quart_appcache.artifacts import RENDERED
from quart_appcache.render import PrefixedBundle

from ..conftest import StarletteFactory, parse_manifest, write

ARTIFACTS = {
    "manifest": "/manifest.appcache",
    "precache": "/precache-manifest.json",
    "sw": "/sw.js",
}


def tenants(make_starlette: StarletteFactory, **settings: object):  # type: ignore[no-untyped-def]
    inner, appcache = make_starlette(fallback={"/": "/offline"}, network=["/api/"], **settings)
    appcache.add_urls("/offline")
    appcache.add_static("static")
    outer = Starlette(routes=[Mount("/{tenant}", app=inner)])
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=outer), base_url="http://t")
    return outer, inner, appcache, http


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The artifact templates rendered (their names), in order."""
    seen: list[str] = []
    real = render_module.render_template

    async def counting(template, context, key):  # type: ignore[no-untyped-def]
        seen.append(template.name)
        return await real(template, context, key)

    monkeypatch.setattr(render_module, "render_template", counting)
    return seen


async def test_each_prefix_gets_its_own_urls_and_the_bytes_of_a_direct_render(
    make_starlette: StarletteFactory, renders: list[str]
) -> None:
    _outer, inner, appcache, http = tenants(make_starlette)
    await appcache.finalize()
    site = appcache.site(inner)
    async with http:
        manifest = await http.get("/acme/manifest.appcache")
        assert manifest.status_code == 200
        sections = parse_manifest(manifest.text)
        assert sections["CACHE"] == [
            "/acme/offline",
            "/acme/static/app.js",
            "/acme/static/css/app.css",
        ]
        assert sections["FALLBACK"] == ["/acme/ /acme/offline"]
        assert sections["NETWORK"] == ["/acme/api/"]
        worker = await http.get("/acme/sw.js")
        assert worker.headers["service-worker-allowed"] == "/acme/"
        # Exactly what rendering under the prefix gives.
        snapshot = site.frozen.snapshot
        for name, path in ARTIFACTS.items():
            served = (await http.get("/acme" + path)).content
            direct = await site.renders.render(
                name,
                PrefixedBundle.of(snapshot, site.settings, "/acme"),
                site.renders.template(name),
            )
            assert served == direct.body, name
            assert (await http.get("/acme" + path)).headers["etag"] == direct.quoted_etag


async def test_a_flood_of_prefixes_renders_each_artifact_once_and_keeps_a_bounded_few(
    make_starlette: StarletteFactory, renders: list[str]
) -> None:
    _outer, inner, appcache, http = tenants(make_starlette)
    await appcache.finalize()
    site = appcache.site(inner)
    renders.clear()
    async with http:
        for number in range(200):
            for path in ARTIFACTS.values():
                response = await http.get(f"/t{number}{path}")
                assert response.status_code == 200
                assert f"/t{number}/static/app.js" in response.text
    # One render per template, under the marker, whatever the prefixes.
    assert sorted(renders) == ["manifest.appcache", "sw.js"]
    assert len(site.renders._rendered) <= render_module.PREFIXES_KEPT * len(RENDERED)


async def test_an_apps_own_worker_template_renders_per_prefix_within_the_bound(
    make_starlette: StarletteFactory, renders: list[str], tmp_path: Path
) -> None:
    from starlette.templating import Jinja2Templates

    write(tmp_path / "templates" / "sw.js", "// {{ entries | upper }}\n")
    templates = Jinja2Templates(directory=tmp_path / "templates")
    _outer, inner, appcache, http = tenants(make_starlette, templates=templates)
    await appcache.finalize()
    site = appcache.site(inner)
    renders.clear()
    async with http:
        body = (await http.get("/acme/sw.js")).text
        assert "/ACME/STATIC/APP.JS" in body  # what the template did to each URL
        for number in range(40):
            await http.get(f"/t{number}/sw.js")
    assert renders.count("sw.js") == 41
    assert len(site.renders._rendered) <= render_module.PREFIXES_KEPT * len(RENDERED)
