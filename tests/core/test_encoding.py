"""File names become percent-encoded URLs that the app's static route serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import AppFactory, parse_manifest, write

NAMES = {
    "with space.js": "/static/odd/with%20space.js",
    "hash#tag.css": "/static/odd/hash%23tag.css",
    "what?.txt": "/static/odd/what%3F.txt",
    "100%.txt": "/static/odd/100%25.txt",
    "café.txt": "/static/odd/caf%C3%A9.txt",
    "日本.txt": "/static/odd/%E6%97%A5%E6%9C%AC.txt",
    "a+b=c&d.txt": "/static/odd/a+b=c&d.txt",
    'quote"<>.txt': "/static/odd/quote%22%3C%3E.txt",
}


@pytest.fixture
def odd_app(make_app: AppFactory):  # type: ignore[no-untyped-def]
    app, appcache = make_app()
    for name in NAMES:
        write(Path(app.root_path) / "static" / "odd" / name, f"content of {name}")
    write(Path(app.root_path) / "static" / "sub dir" / "ü.js", "nested")
    appcache.add_folder("static")
    return app, appcache


async def test_odd_names_are_listed_percent_encoded(odd_app) -> None:  # type: ignore[no-untyped-def]
    _app, appcache = odd_app
    urls = set(appcache.urls)
    assert set(NAMES.values()) <= urls
    assert "/static/sub%20dir/%C3%BC.js" in urls


async def test_every_listed_url_is_served_by_the_static_route(odd_app) -> None:  # type: ignore[no-untyped-def]
    app, appcache = odd_app
    client = app.test_client()
    root = Path(app.root_path) / "static"
    for url, _revision in await appcache.entries():
        response = await client.get(url)
        assert response.status_code == 200, url
        body = await response.get_data()
        on_disk = {p.read_bytes() for p in root.rglob("*") if p.is_file()}
        assert body in on_disk, url


async def test_manifest_with_odd_names_stays_valid(odd_app) -> None:  # type: ignore[no-untyped-def]
    app, _appcache = odd_app
    text = (await (await app.test_client().get("/manifest.appcache")).get_data()).decode()
    assert set(NAMES.values()) <= set(parse_manifest(text)["CACHE"])


async def test_exclusion_prefix_matches_encoded_names(odd_app) -> None:  # type: ignore[no-untyped-def]
    _app, appcache = odd_app
    appcache.add_excluded_urls("/static/sub dir")
    assert not [url for url in appcache.urls if url.startswith("/static/sub%20dir")]
