"""Cache headers: only on tracked URLs and the extension's own routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ...conftest import AppFactory, write


@pytest.mark.parametrize(
    ("debug", "expected"), [(False, {"max-age=0", "must-revalidate"}), (True, {"no-cache"})]
)
async def test_tracked_urls_must_revalidate(
    make_app: AppFactory, debug: bool, expected: set[str]
) -> None:
    app, appcache = make_app(debug=debug)
    appcache.add_urls("/")
    appcache.add_folder("static")
    client = app.test_client()
    for url in ("/", "/static/app.js", "/static/css/app.css"):
        response = await client.get(url)
        directives = {d.strip() for d in response.headers["Cache-Control"].split(",")}
        assert expected <= directives, (url, directives)
        assert "max-age=43200" not in directives
        assert "Expires" not in response.headers


async def test_other_routes_keep_their_headers(make_app: AppFactory) -> None:
    app, appcache = make_app()
    appcache.add_urls("/")

    @app.route("/api")
    async def api():  # type: ignore[no-untyped-def]
        return "x", 200, {"Cache-Control": "max-age=60", "Expires": "soon"}

    response = await app.test_client().get("/api")
    assert response.headers["Cache-Control"] == "max-age=60"
    assert response.headers["Expires"] == "soon"
    untracked = await app.test_client().get("/offline")
    assert "Cache-Control" not in untracked.headers


async def test_excluded_and_hidden_files_keep_their_headers(make_app: AppFactory) -> None:
    app, appcache = make_app()
    static = Path(app.root_path) / "static"
    write(static / ".hidden.js", "hidden")
    write(static / ".well-known" / "assetlinks.json", "{}")
    appcache.add_folder("static")
    appcache.add_excluded_urls("/static/css")
    client = app.test_client()
    for url in ("/static/css/app.css", "/static/.hidden.js", "/static/.well-known/assetlinks.json"):
        response = await client.get(url)
        assert response.status_code == 200, url
        assert "must-revalidate" not in response.headers.get("Cache-Control", ""), url
    assert "must-revalidate" in (await client.get("/static/app.js")).headers["Cache-Control"]


async def test_an_encoded_query_matches_its_declaration(make_app: AppFactory) -> None:
    app, appcache = make_app()

    @app.route("/search")
    async def search() -> str:
        from quart import request

        return request.args.get("q", "")

    appcache.add_urls("/search?q=ü")
    client = app.test_client()
    # Browsers send the query encoded; it was declared decoded.
    found = await client.get("/search?q=%C3%BC")
    assert await found.get_data() == "ü".encode()
    assert "must-revalidate" in found.headers["Cache-Control"]
    other = await client.get("/search?q=x")
    assert "Cache-Control" not in other.headers


async def test_a_folder_at_the_root_does_not_make_every_route_tracked(
    make_app: AppFactory,
) -> None:
    app, appcache = make_app()

    @app.route("/api/items")
    async def items():  # type: ignore[no-untyped-def]
        return "[]", 200, {"Cache-Control": "max-age=60", "Expires": "Thu, 01 Jan 2099"}

    appcache.add_folder("static", base="/")
    assert "/app.js" in appcache.urls
    client = app.test_client()
    api = await client.get("/api/items")
    assert api.headers["Cache-Control"] == "max-age=60"
    assert api.headers["Expires"] == "Thu, 01 Jan 2099"
    missing = await client.get("/nothing-here")
    assert missing.status_code == 404
    assert "must-revalidate" not in missing.headers.get("Cache-Control", "")


async def test_manifest_is_no_cache(make_app: AppFactory) -> None:
    app, _ = make_app()
    for url in ("/manifest.appcache", "/precache-manifest.json", "/sw.js"):
        response = await app.test_client().get(url)
        assert response.headers["Cache-Control"] == "no-cache", url


async def test_in_process_renders_never_pay_for_the_header_hook(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building the tracked-URL matcher lists every folder: a render must not
    # trigger it (the bundle is being computed right then).
    app, appcache = make_app(debug=True)
    appcache.add_urls("/", "/offline")
    appcache.add_folder("static")
    site = appcache.site()
    built: list[int] = []
    real = site._build_matcher

    async def counting():  # type: ignore[no-untyped-def]
        built.append(1)
        return await real()

    monkeypatch.setattr(site, "_build_matcher", counting)
    await appcache.hash()
    assert built == []
    client = app.test_client()
    responses = [await client.get(url) for url in ("/", "/offline", "/static/app.js")]
    assert all("no-cache" in r.headers["Cache-Control"] for r in responses)
    assert built == [1]  # one build, from the last computation's URLs, shared
