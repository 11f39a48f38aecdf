"""The manifest route and its siblings: template, headers, HEAD, errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ...conftest import AppFactory, parse_manifest, write


async def test_default_manifest_is_a_valid_cache_manifest(make_app: AppFactory) -> None:
    app, appcache = make_app(APPCACHE_FALLBACK={"/": "/offline"}, APPCACHE_NETWORK=["*"])
    appcache.add_urls("/")
    appcache.add_folder("static")
    response = await app.test_client().get("/manifest.appcache")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/cache-manifest; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    text = (await response.get_data()).decode()
    version, _ = await appcache.hash()
    assert f"# version {version}\n" in text
    sections = parse_manifest(text)
    assert sections["CACHE"] == ["/", "/static/app.js", "/static/css/app.css", "/offline"]
    assert sections["FALLBACK"] == ["/ /offline"]
    assert sections["NETWORK"] == ["*"]


async def test_default_manifest_leaves_out_updated(make_app: AppFactory) -> None:
    app, appcache = make_app()
    appcache.add_urls("/")
    _, updated = await appcache.hash()
    text = (await (await app.test_client().get("/manifest.appcache")).get_data()).decode()
    assert updated not in text


async def test_manifest_changes_exactly_when_content_changes(make_app: AppFactory) -> None:
    app, appcache = make_app()
    appcache.add_folder("static")
    client = app.test_client()
    first = await (await client.get("/manifest.appcache")).get_data()
    assert await (await client.get("/manifest.appcache")).get_data() == first
    write(Path(app.root_path) / "static" / "app.js", "changed")
    assert await (await client.get("/manifest.appcache")).get_data() != first


async def test_head_answers_like_get(make_app: AppFactory) -> None:
    app, appcache = make_app()
    appcache.add_urls("/")
    response = await app.test_client().head("/manifest.appcache")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/cache-manifest; charset=utf-8"


async def test_post_is_not_allowed(make_app: AppFactory) -> None:
    app, _ = make_app()
    assert (await app.test_client().post("/manifest.appcache")).status_code == 405


async def test_custom_url(make_app: AppFactory) -> None:
    app, _appcache = make_app(APPCACHE_URL="/my_manifest.appcache")
    client = app.test_client()
    assert (await client.get("/my_manifest.appcache")).status_code == 200
    assert (await client.get("/manifest.appcache")).status_code == 404


async def test_app_template_wins_and_gets_every_variable(make_app: AppFactory) -> None:
    app, appcache = make_app(APPCACHE_FALLBACK={"/": "/offline"}, APPCACHE_NETWORK=["/api"])
    write(
        Path(app.root_path) / "templates" / "manifest.appcache",
        "CACHE MANIFEST\n# mine {{ hash }} {{ updated }}\n"
        "{% for url in urls %}{{ url }}\n{% endfor %}"
        "{% for p, t in fallback.items() %}F {{ p }} {{ t }}\n{% endfor %}"
        "{% for n in network %}N {{ n }}\n{% endfor %}",
    )
    appcache.add_urls("/")
    text = (await (await app.test_client().get("/manifest.appcache")).get_data()).decode()
    version, updated = await appcache.hash()
    assert text == (
        f"CACHE MANIFEST\n# mine {version} {updated}\n/\n/offline\nF / /offline\nN /api\n"
    )


async def test_custom_template_name(make_app: AppFactory) -> None:
    app, _appcache = make_app(APPCACHE_TEMPLATE="my_manifest.appcache")
    write(Path(app.root_path) / "templates" / "my_manifest.appcache", "CACHE MANIFEST\n# custom\n")
    assert b"# custom" in await (await app.test_client().get("/manifest.appcache")).get_data()


async def test_missing_custom_template_is_a_clear_500_in_debug(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app, _appcache = make_app(debug=True, APPCACHE_TEMPLATE="nope.appcache")
    response = await app.test_client().get("/manifest.appcache")
    assert response.status_code == 500
    body = (await response.get_data()).decode()
    assert "APPCACHE_TEMPLATE is 'nope.appcache'" in body
    assert "nope.appcache" in caplog.text


async def test_failing_view_makes_the_debug_manifest_answer_500_and_log(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app, appcache = make_app(debug=True)
    appcache.add_urls("/missing")
    with caplog.at_level(logging.ERROR, logger="quart_appcache"):
        response = await app.test_client().get("/manifest.appcache")
    assert response.status_code == 500
    assert "'/missing'" in (await response.get_data()).decode()
    assert "Cannot cache '/missing': the app answered 404" in caplog.text


async def test_production_500_does_not_leak_details(make_app: AppFactory) -> None:
    app, appcache = make_app(debug=False)
    appcache.add_urls("/missing")
    response = await app.test_client().get("/manifest.appcache")
    assert response.status_code == 500
    assert b"/missing" not in await response.get_data()


async def test_conditional_get_answers_304_then_200_after_a_change(make_app: AppFactory) -> None:
    app, appcache = make_app(debug=True)
    appcache.add_folder("static")
    client = app.test_client()
    for url in ("/manifest.appcache", "/precache-manifest.json", "/sw.js"):
        first = await client.get(url)
        etag = first.headers["ETag"]
        assert etag.startswith('"')
        assert etag.endswith('"')
        again = await client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304, url
        assert await again.get_data() == b""
        assert again.headers["ETag"] == etag
    etag = (await client.get("/manifest.appcache")).headers["ETag"]
    write(Path(app.root_path) / "static" / "app.js", "changed")
    changed = await client.get("/manifest.appcache", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


async def test_url_route_collision_is_refused_at_init_app(make_app: AppFactory) -> None:
    app, _ = make_app(init=False)

    @app.route("/sw.js")
    async def mine() -> str:
        return ""

    from quart_appcache import Appcache, ConfigError

    with pytest.raises(ConfigError, match=r"APPCACHE_SW_URL is '/sw.js'.*'mine'"):
        Appcache(app)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("APPCACHE_URL", "manifest.appcache", "APPCACHE_URL"),
        ("APPCACHE_SW_URL", "sw.js", "APPCACHE_SW_URL"),
        ("APPCACHE_PRECACHE_URL", "http://x/p.json", "APPCACHE_PRECACHE_URL"),
        ("APPCACHE_URL_BASE", "localhost", "APPCACHE_URL_BASE"),
        ("APPCACHE_URL_BASE", "http://localhost/app", "APPCACHE_URL_BASE"),
        ("APPCACHE_FALLBACK", ["/", "/offline"], "APPCACHE_FALLBACK"),
        ("APPCACHE_FALLBACK", {"/": "offline"}, "APPCACHE_FALLBACK"),
        ("APPCACHE_NETWORK", "*", "APPCACHE_NETWORK"),
        ("APPCACHE_NETWORK", ["api"], "APPCACHE_NETWORK"),
        ("APPCACHE_FETCH_TIMEOUT", 0, "APPCACHE_FETCH_TIMEOUT"),
        ("APPCACHE_FINALIZE", "yes", "APPCACHE_FINALIZE"),
        ("APPCACHE_TEMPLATE", "", "APPCACHE_TEMPLATE"),
        ("APPCACHE_SW_URL", "/manifest.appcache", "must differ"),
    ],
)
async def test_bad_config_is_refused_at_init_app(
    make_app: AppFactory, key: str, value: object, match: str
) -> None:
    from quart_appcache import ConfigError

    with pytest.raises(ConfigError, match=match):
        make_app(**{key: value})
