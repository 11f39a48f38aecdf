"""The generated service worker and precache JSON, checked without a browser.

The script is checked with ``node --check`` and then run in Node with
stand-ins for caches, fetch and events (tests/sw_harness.js), to pin down its
rules. The real-browser tests are in tests/e2e/test_browser.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from quart import Quart

from quart_appcache import Appcache, ConfigError
from quart_appcache.hashing import revision_of

from ..conftest import AppFactory, write

HARNESS = Path(__file__).with_name("sw_harness.js")
NODE = shutil.which("node") or "node"  # Node.js is part of the machine, as Debian's chromium
ORIGIN = "http://app.test"


async def get(app: Quart, url: str) -> bytes:
    response = await app.test_client().get(url)
    assert response.status_code == 200, url
    return await response.get_data()


async def script(app: Quart, tmp_path: Path) -> Path:
    path = tmp_path / "sw.js"
    path.write_bytes(await get(app, "/sw.js"))
    return path


def run_sw(sw: Path, tmp_path: Path, **scenario: Any) -> dict[str, Any]:
    scenario_path = tmp_path / "scenario.json"
    scenario_path.write_text(json.dumps(scenario))
    done = subprocess.run(
        [str(NODE), str(HARNESS), str(sw), str(scenario_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture
async def site(make_app: AppFactory) -> tuple[Quart, Appcache, dict[str, str]]:
    app, appcache = make_app(APPCACHE_FALLBACK={"/": "/offline", "/docs/": "/docs-offline"})

    @app.route("/docs-offline")
    async def docs_offline() -> str:
        return "docs offline"

    appcache.add_urls("/")
    appcache.add_folder("static")
    keys = await precache_keys(app)
    return app, appcache, keys


async def precache_keys(app: Quart) -> dict[str, str]:
    """Every precached URL (the page client included) and its cache key."""
    return keys_of(json.loads(await get(app, "/precache-manifest.json")))


def keys_of(entries: list[dict[str, str]]) -> dict[str, str]:
    """The worker's cache key of each precache entry, by URL."""
    return {e["url"]: f"{ORIGIN}{e['url']}?__appcache_revision={e['revision']}" for e in entries}


async def served(app: Quart, urls: list[str]) -> dict[str, str]:
    """What the app serves at each URL: the bytes a browser downloads."""
    return {url: (await get(app, url)).decode() for url in urls}


async def test_precache_json_is_workbox_format_matching_entries(site) -> None:  # type: ignore[no-untyped-def]
    app, appcache, _ = site
    response = await app.test_client().get("/precache-manifest.json")
    assert response.headers["Content-Type"] == "application/json"
    data = json.loads(await response.get_data())
    # The app's entries, then the page client, which the worker precaches too.
    client = await get(app, "/appcache.js")
    assert data == [
        *({"url": url, "revision": rev} for url, rev in await appcache.entries()),
        {"url": "/appcache.js", "revision": revision_of(client)},
    ]


async def test_script_is_valid_javascript_served_as_such(site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = site
    response = await app.test_client().get("/sw.js")
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Service-Worker-Allowed"] == "/"
    sw = await script(app, tmp_path)
    subprocess.run([str(NODE), "--check", str(sw)], check=True, timeout=30)


async def test_script_carries_fallback_network_and_version(site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, appcache, _ = site
    text = (await get(app, "/sw.js")).decode()
    version, _ = await appcache.hash()
    assert f'const VERSION = "{version}";' in text
    assert 'const FALLBACK = [["/docs/", "/docs-offline"], ["/", "/offline"]];' in text
    assert 'const NETWORK = ["*"];' in text
    assert 'const UPDATE = "pinned";' in text


async def test_script_changes_exactly_when_the_version_changes(site) -> None:  # type: ignore[no-untyped-def]
    app, appcache, _ = site
    first = await get(app, "/sw.js")
    assert await get(app, "/sw.js") == first
    write(Path(app.root_path) / "static" / "app.js", "changed")
    second = await get(app, "/sw.js")
    assert second != first
    assert (await appcache.hash())[0].encode() in second


async def test_install_precaches_everything_with_cache_reload(site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, _appcache, keys = site
    bodies = await served(app, list(keys))
    result = run_sw(await script(app, tmp_path), tmp_path, install=True, bodies=bodies)
    assert result["install"] == "ok"
    # Each with its revision in the query (no name here carries a hash), so
    # a cache keyed on the URL cannot hand out an older copy.
    assert sorted(f["url"] for f in result["fetched"]) == sorted(keys.values())
    assert {f["cache"] for f in result["fetched"]} == {"reload"}
    assert {f["redirect"] for f in result["fetched"]} == {"manual"}
    # No cookies: what is stored is the page every visitor gets, as it was hashed.
    assert {f["credentials"] for f in result["fetched"]} == {"omit"}
    # Installed entries are stored under keys of their revision, which the
    # version in charge never looks up.
    assert result["caches"] == {"": sorted(keys.values())}
    assert result["skipped"] is True  # pinned versions take over once installed
    activated = run_sw(
        await script(app, tmp_path), tmp_path, install=True, activate=True, bodies=bodies
    )
    assert activated["caches"] == {"": sorted(keys.values())}


async def test_a_failed_install_leaves_the_caches_as_they_were(site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, _, keys = site
    # "/" and app.js are missing: "/" downloads fine, app.js fails the install.
    kept = [key for url, key in keys.items() if url not in ("/", "/static/app.js")]
    before = {"": kept, "other-app": ["x"]}
    result = run_sw(
        await script(app, tmp_path),
        tmp_path,
        install=True,
        caches=before,
        statuses={"/static/app.js": 500},
        bodies=await served(app, list(keys)),
    )
    assert result["install"].startswith("failed:")
    assert keys["/"] in [f["url"] for f in result["fetched"]]
    assert result["caches"] == {"": sorted(kept), "other-app": ["x"]}


async def test_a_refused_put_fails_the_install_naming_the_url_and_is_undone(
    site, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    app, appcache, keys = site
    old = ["http://app.test/old.js?__appcache_revision=1"]
    result = run_sw(
        await script(app, tmp_path),
        tmp_path,
        install=True,
        caches={"": old, f"quart-appcache:{ORIGIN}/:install:old": ["x"]},
        failPutsAfter=2,
        bodies=await served(app, list(keys)),
    )
    assert result["install"].startswith("failed:")
    [told] = result["told"]
    version, _ = await appcache.hash()
    assert told["version"] == version
    assert told["url"] in keys
    assert told["reason"] == ("it could not be stored (QuotaExceededError: the quota is exceeded)")
    # What the install stored is taken back: the version in charge has its cache as it was.
    assert result["caches"][""] == old
    # A first install that fails leaves no cache at all.
    first = run_sw(
        await script(app, tmp_path),
        tmp_path,
        install=True,
        caches={},
        failPutsAfter=1,
        bodies=await served(app, list(keys)),
    )
    assert first["install"].startswith("failed:")
    assert first["caches"] == {}


async def test_activation_only_deletes_and_removes_staging_caches_of_earlier_releases(
    site, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    app, _, keys = site
    staging = f"quart-appcache:{ORIGIN}/:install:an-old-version"
    result = run_sw(
        await script(app, tmp_path),
        tmp_path,
        install=True,
        activate=True,
        caches={"": ["http://app.test/gone.js?__appcache_revision=1"], staging: ["x"]},
        bodies=await served(app, list(keys)),
    )
    assert result["caches"] == {"": sorted(keys.values())}


async def test_install_reuses_entries_cached_by_an_earlier_version(site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, _, keys = site
    cached = [key for url, key in keys.items() if url != "/static/app.js"]
    result = run_sw(
        await script(app, tmp_path),
        tmp_path,
        install=True,
        cached=cached,
        bodies=await served(app, ["/static/app.js"]),
    )
    assert result["install"] == "ok"
    assert [f["url"] for f in result["fetched"]] == [keys["/static/app.js"]]


async def test_a_failed_fetch_fails_the_install_and_tells_the_pages(site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, appcache, keys = site
    result = run_sw(
        await script(app, tmp_path),
        tmp_path,
        install=True,
        statuses={"/static/app.js": 404},
        bodies=await served(app, list(keys)),
    )
    assert result["install"].startswith(
        "failed: quart_appcache: precaching /static/app.js failed: answered 404"
    )
    version, _ = await appcache.hash()
    assert result["told"] == [
        {
            "type": "quart-appcache:install-failed",
            "version": version,
            "url": "/static/app.js",
            "reason": "answered 404",
        }
    ]


async def test_other_bytes_than_hashed_are_retried_once_then_refused(site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, _appcache, keys = site
    bodies: dict[str, Any] = await served(app, list(keys))
    real = bodies["/static/app.js"]
    sw = await script(app, tmp_path)
    # A stale CDN copy first, the right bytes on the retry: installed.
    bodies["/static/app.js"] = ["stale bytes from a CDN", real]
    healed = run_sw(sw, tmp_path, install=True, bodies=bodies)
    assert healed["install"] == "ok"
    fetched = [f for f in healed["fetched"] if "/static/app.js" in f["url"]]
    assert [f["cache"] for f in fetched] == ["reload", "no-store"]
    assert "__appcache_retry=" in fetched[1]["url"]
    # Wrong bytes twice: the install fails, naming the URL and why.
    bodies["/static/app.js"] = ["stale bytes from a CDN"]
    refused = run_sw(sw, tmp_path, install=True, bodies=bodies)
    assert refused["install"].startswith("failed:")
    [told] = refused["told"]
    assert told["url"] == "/static/app.js"
    assert told["reason"].startswith("the content does not match its revision")
    assert refused["caches"] == {"": []}


@pytest.mark.parametrize(("mode", "view_checked"), [("files", False), ("all", True)])
async def test_verify_setting_chooses_what_is_checked(
    make_app: AppFactory, tmp_path: Path, mode: str, view_checked: bool
) -> None:
    app, appcache = make_app(APPCACHE_SW_VERIFY=mode)
    appcache.add_urls("/")
    appcache.add_folder("static")
    keys = await precache_keys(app)
    bodies: dict[str, Any] = await served(app, list(keys))
    bodies["/"] = "<h1>home</h1> for another host"  # a view whose bytes depend on the request
    result = run_sw(await script(app, tmp_path), tmp_path, install=True, bodies=bodies)
    assert result["install"].startswith("failed:") is view_checked
    none, none_cache = make_app(APPCACHE_SW_VERIFY="none")
    none_cache.add_folder("static")
    wrong = {url: "wrong" for url in await precache_keys(none)}
    assert (
        run_sw(await script(none, tmp_path), tmp_path, install=True, bodies=wrong)["install"]
        == "ok"
    )


async def test_tracking_parameters_are_answered_from_the_precache(site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, _, keys = site
    requests = [
        {"url": "/?utm_source=news&utm_medium=mail"},
        {"url": "/static/app.js?fbclid=abc"},
        {"url": "/?gclid=1&page=2"},  # another parameter stays: not the precached "/"
    ]
    result = run_sw(
        await script(app, tmp_path),
        tmp_path,
        cached=list(keys.values()),
        requests=requests,
        offline=True,
    )
    assert result["requests"][:2] == ["cached:" + keys["/"], "cached:" + keys["/static/app.js"]]
    assert result["requests"][2] == "cached:" + keys["/offline"]  # a page load: the fallback


async def test_ignored_params_setting(make_app: AppFactory, tmp_path: Path) -> None:
    from quart_appcache import ConfigError

    app, appcache = make_app(APPCACHE_SW_IGNORED_PARAMS=["ref", "mc_?id"])
    appcache.add_urls("/")
    keys = await precache_keys(app)
    requests = [{"url": "/?ref=x"}, {"url": "/?mc_cid=1"}, {"url": "/?utm_source=x"}]
    result = run_sw(
        await script(app, tmp_path),
        tmp_path,
        cached=list(keys.values()),
        requests=requests,
        offline=True,
    )
    # utm_source is not ignored here: not the precached "/", so the network.
    assert result["requests"] == ["cached:" + keys["/"], "cached:" + keys["/"], "untouched"]
    for bad in ("utm_*", ["a=b"], [""], [3]):
        with pytest.raises(ConfigError, match="APPCACHE_SW_IGNORED_PARAMS"):
            make_app(APPCACHE_SW_IGNORED_PARAMS=bad)


async def test_applying_an_update_tells_every_page_then_takes_over(  # type: ignore[no-untyped-def]
    make_app: AppFactory, tmp_path: Path
) -> None:
    app, appcache = make_app(APPCACHE_SW_UPDATE="waiting")
    result = run_sw(await script(app, tmp_path), tmp_path, messages=["quart-appcache:skip-waiting"])
    version, _ = await appcache.hash()
    assert result["told"] == [{"type": "quart-appcache:applying", "version": version}]
    assert result["skipped"] is True
    asked = run_sw(await script(app, tmp_path), tmp_path, messages=["quart-appcache:version"])
    assert asked["replies"] == [version]
    # workbox-window's messageSkipWaiting() drives it the same way.
    workbox = run_sw(await script(app, tmp_path), tmp_path, messages=[{"type": "SKIP_WAITING"}])
    assert workbox["skipped"] is True
    other = run_sw(await script(app, tmp_path), tmp_path, messages=[{"type": "OTHER"}, "x"])
    assert other["skipped"] is False


async def test_pinned_versions_take_over_without_reloading_any_page(site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, appcache, _ = site
    result = run_sw(await script(app, tmp_path), tmp_path, messages=["quart-appcache:skip-waiting"])
    assert result["told"] == []  # no page is told to reload
    assert result["skipped"] is True
    version, _ = await appcache.hash()
    asked = run_sw(await script(app, tmp_path), tmp_path, messages=["quart-appcache:versions"])
    assert asked["replies"] == [{"page": version, "newest": version, "update": "pinned"}]


async def test_activate_prunes_what_the_version_no_longer_lists(site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, _, keys = site
    stale = [
        f"{ORIGIN}/static/old.js?__appcache_revision=abc",
        f"{ORIGIN}/?__appcache_revision=old",
    ]
    result = run_sw(
        await script(app, tmp_path), tmp_path, activate=True, cached=[*keys.values(), *stale]
    )
    assert result["cache"] == sorted(keys.values())
    assert result["claimed"] is True


async def test_fetch_rules(site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, _, keys = site
    sw = await script(app, tmp_path)
    requests = [
        {"url": "/static/app.js"},
        {"url": "/static/app.js#frag"},
        {"url": "/live"},
        {"url": "/", "method": "POST"},
        {"url": "https://cdn.example/lib.js"},
    ]
    online = run_sw(sw, tmp_path, cached=list(keys.values()), requests=requests)
    assert online["requests"] == [
        "cached:" + keys["/static/app.js"],
        "cached:" + keys["/static/app.js"],
        f"network:{ORIGIN}/live",
        "untouched",
        "untouched",
    ]
    offline_requests = [{"url": "/live"}, {"url": "/docs/page"}, {"url": "/"}]
    offline = run_sw(
        sw, tmp_path, cached=list(keys.values()), requests=offline_requests, offline=True
    )
    assert offline["requests"] == [
        "cached:" + keys["/offline"],
        "cached:" + keys["/docs-offline"],  # the longest matching prefix wins
        "cached:" + keys["/"],
    ]


async def test_fallback_is_for_page_loads_only(site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, _, keys = site
    requests = [
        {"url": "/api/items", "mode": "cors"},  # a fetch() from a page
        {"url": "/docs/style.css", "mode": "no-cors"},  # a stylesheet
        {"url": "/docs/page", "mode": "navigate"},
    ]
    offline = run_sw(
        await script(app, tmp_path),
        tmp_path,
        cached=list(keys.values()),
        requests=requests,
        offline=True,
    )
    # Sub-resources go to the network untouched (and fail there), never the page's HTML.
    assert offline["requests"] == ["untouched", "untouched", "cached:" + keys["/docs-offline"]]


async def test_range_and_head_are_answered_from_the_precache(site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, _, keys = site
    key = keys["/static/app.js"]
    body = "cached:" + key
    size = len(body)
    requests = [
        {"url": "/static/app.js", "headers": {"Range": "bytes=0-6"}},
        {"url": "/static/app.js", "headers": {"Range": "bytes=7-"}},
        {"url": "/static/app.js", "headers": {"Range": "bytes=-5"}},
        {"url": "/static/app.js", "headers": {"Range": f"bytes={size}-"}},
        {"url": "/static/app.js", "headers": {"Range": "bytes=0-1,4-5"}},
        {"url": "/static/app.js", "method": "HEAD"},
    ]
    result = run_sw(
        await script(app, tmp_path),
        tmp_path,
        cached=list(keys.values()),
        requests=requests,
        offline=True,
    )
    assert result["requests"] == [
        f"206 bytes 0-6/{size} cached:",
        f"206 bytes 7-{size - 1}/{size} {body[7:]}",
        f"206 bytes {size - 5}-{size - 1}/{size} {body[-5:]}",
        f"416 bytes */{size}",
        body,  # several ranges: the whole body, as HTTP allows
        "",  # HEAD: the headers, no body
    ]
    assert result["fetched"] == []


async def test_network_whitelist_fails_the_rest_as_appcache_did(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app, appcache = make_app(
        APPCACHE_NETWORK=["/api/", "https://CDN.example/libs/"],
        APPCACHE_FALLBACK={"/docs/": "/offline"},
    )
    appcache.add_urls("/")
    sw = await script(app, tmp_path)
    assert 'const NETWORK = ["/api/", "https://cdn.example/libs/"];' in sw.read_text()
    result = run_sw(
        sw,
        tmp_path,
        requests=[
            {"url": "/api/items"},
            {"url": "/other"},
            {"url": "https://cdn.example/libs/lib.js"},
            {"url": "https://cdn.example/other.js"},
            {"url": "https://elsewhere.example/x.js"},
            {"url": "/docs/x"},
        ],
    )
    assert result["requests"] == [
        "untouched",
        "error",
        "untouched",  # another origin that NETWORK names goes to the network
        "error",
        "error",
        f"network:{ORIGIN}/docs/x",
    ]


@pytest.mark.parametrize(
    "entry", ["ftp://cdn.example/", "https://", "https://cdn.example/#x", "https://a b/"]
)
async def test_bad_network_origins_are_refused(make_app: AppFactory, entry: str) -> None:
    from quart_appcache import ConfigError

    with pytest.raises(ConfigError, match=r"APPCACHE_NETWORK.*absolute URL prefix"):
        make_app(APPCACHE_NETWORK=[entry])


@pytest.mark.parametrize(
    ("update", "skipped"), [("pinned", True), ("immediate", True), ("waiting", False)]
)
async def test_a_new_version_waits_only_when_told_to(  # type: ignore[no-untyped-def]
    make_app: AppFactory, tmp_path: Path, update, skipped
) -> None:
    app, appcache = make_app(APPCACHE_SW_UPDATE=update)
    appcache.add_urls("/")
    bodies = await served(app, list(await precache_keys(app)))
    result = run_sw(await script(app, tmp_path), tmp_path, install=True, bodies=bodies)
    assert result["install"] == "ok"
    assert result["skipped"] is skipped


@pytest.mark.parametrize(("value", "meant"), [(True, "immediate"), (False, "waiting")])
def test_the_skip_waiting_setting_is_deprecated_for_sw_update(
    make_app: AppFactory, value: bool, meant: str
) -> None:
    with pytest.warns(
        DeprecationWarning,
        match=rf"APPCACHE_SW_SKIP_WAITING is deprecated: set APPCACHE_SW_UPDATE = '{meant}'",
    ):
        app, appcache = make_app(APPCACHE_SW_SKIP_WAITING=value)
    assert appcache.site(app).settings.sw_update == meant


def test_a_skip_waiting_setting_that_disagrees_is_refused(make_app: AppFactory) -> None:
    with pytest.raises(
        ConfigError,
        match=r"APPCACHE_SW_SKIP_WAITING = True and APPCACHE_SW_UPDATE = 'pinned' disagree",
    ):
        make_app(APPCACHE_SW_SKIP_WAITING=True, APPCACHE_SW_UPDATE="pinned")
    with pytest.raises(
        ConfigError, match=r"APPCACHE_SW_UPDATE is 'later'; give 'pinned', 'waiting' or 'immediate'"
    ):
        make_app(APPCACHE_SW_UPDATE="later")


async def test_disabled_urls_are_not_routed(make_app: AppFactory) -> None:
    app, _ = make_app(APPCACHE_SW_URL=None, APPCACHE_PRECACHE_URL=None)
    client = app.test_client()
    assert (await client.get("/sw.js")).status_code == 404
    assert (await client.get("/precache-manifest.json")).status_code == 404
    assert (await client.get("/manifest.appcache")).status_code == 200


async def test_registration_snippet(make_app: AppFactory) -> None:
    app, _ = make_app(APPCACHE_SW_URL="/static-sw.js", APPCACHE_SW_UPDATE_INTERVAL=600)
    async with app.app_context():
        snippet = await app.jinja_env.from_string("{{ appcache_sw_script() }}").render_async()
        # No inline script: it works under Content-Security-Policy script-src 'self'.
        assert snippet == (
            '<script src="/appcache.js" data-sw="/static-sw.js" data-scope="/" '
            'data-update-interval="600" defer></script>'
        )
        url = await app.jinja_env.from_string("{{ appcache_manifest_url() }}").render_async()
        assert url == "/manifest.appcache"
    for off_config in ({"APPCACHE_SW_URL": None}, {"APPCACHE_SW_CLIENT_URL": None}):
        off, _ = make_app(**off_config)
        rendered = await off.jinja_env.from_string("{{ appcache_sw_script() }}").render_async()
        assert rendered == ""
    quiet, _ = make_app(APPCACHE_SW_UPDATE_INTERVAL=None, APPCACHE_SW_UNREGISTER=True)
    async with quiet.app_context():
        snippet = await quiet.jinja_env.from_string("{{ appcache_sw_script() }}").render_async()
    assert "data-update-interval" not in snippet
    assert 'data-unregister="true"' in snippet


async def test_the_page_client_is_served_and_valid_javascript(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app, _ = make_app()
    response = await app.test_client().get("/appcache.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    path = tmp_path / "appcache.js"
    path.write_bytes(await response.get_data())
    subprocess.run([str(NODE), "--check", str(path)], check=True, timeout=30)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("APPCACHE_SW_UPDATE_INTERVAL", 0, "number of seconds above 0, or None"),
        ("APPCACHE_SW_UPDATE_INTERVAL", "hourly", "number of seconds above 0, or None"),
        ("APPCACHE_SW_VERIFY", "some", "give 'files', 'all' or 'none'"),
        ("APPCACHE_SW_UNREGISTER", "yes", "True, False or None"),
        ("APPCACHE_SW_CLIENT_URL", "appcache.js", "must start with '/'"),
        ("APPCACHE_SW_CLIENT_URL", "/sw.js", "must differ"),
    ],
)
async def test_new_settings_are_checked(
    make_app: AppFactory, key: str, value: object, message: str
) -> None:
    from quart_appcache import ConfigError

    with pytest.raises(ConfigError, match=rf"{key}.*{re.escape(message)}"):
        make_app(**{key: value})


async def test_kill_switch_serves_a_worker_that_cleans_up_and_410s(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app, appcache = make_app(APPCACHE_SW_UNREGISTER=True)
    appcache.add_urls("/")
    client = app.test_client()
    assert (await client.get("/manifest.appcache")).status_code == 410
    assert (await client.get("/precache-manifest.json")).status_code == 410
    assert (await client.get("/appcache.js")).status_code == 200  # pages still load it
    sw = await script(app, tmp_path)
    subprocess.run([str(NODE), "--check", str(sw)], check=True, timeout=30)
    ours = f"quart-appcache:{ORIGIN}/"
    result = run_sw(
        sw,
        tmp_path,
        install=True,
        activate=True,
        caches={
            "": ["a"],
            f"{ours}:runtime:docs": ["b"],
            "someone-else": ["c"],
            # Another app of the origin, under a longer scope: not this one's.
            f"{ours}b/": ["d"],
            f"{ours}b/:runtime:api": ["e"],
        },
    )
    assert result["skipped"] is True
    assert result["caches"] == {
        "someone-else": ["c"],
        f"{ours}b/": ["d"],
        f"{ours}b/:runtime:api": ["e"],
    }
    assert result["unregistered"] is True
    assert result["navigated"] == [f"{ORIGIN}/"]


async def test_app_sw_template_wins(make_app: AppFactory) -> None:
    app, _ = make_app()
    write(Path(app.root_path) / "templates" / "sw.js", "// mine {{ version }}\n")
    assert (await get(app, "/sw.js")).startswith(b'// mine "')


async def test_workbox_template_gets_the_precache_list(make_app: AppFactory) -> None:
    app, appcache = make_app(APPCACHE_SW_TEMPLATE="workbox-sw.js")
    write(
        Path(app.root_path) / "templates" / "workbox-sw.js",
        "importScripts('/static/workbox/workbox-sw.js');\n"
        "workbox.precaching.precacheAndRoute({{ entries }});\n",
    )
    appcache.add_folder("static")
    text = (await get(app, "/sw.js")).decode()
    inlined = text.split("precacheAndRoute(", 1)[1].rsplit(");", 1)[0]
    assert json.loads(inlined) == json.loads(await get(app, "/precache-manifest.json"))


@pytest.mark.parametrize("adapter", ["quart", "starlette"])
async def test_excluded_page_loads_never_get_the_fallback(
    make_app: AppFactory, make_starlette: Any, tmp_path: Path, adapter: str
) -> None:
    exclude = ["/auth/", re.compile(r"^/files/.*\.PDF$", re.IGNORECASE)]
    if adapter == "quart":
        app, _ = make_app(APPCACHE_FALLBACK={"/": "/offline"}, APPCACHE_FALLBACK_EXCLUDE=exclude)
        keys = await precache_keys(app)
        sw = await script(app, tmp_path)
    else:
        from ..starlette_apps import client

        app, _ = make_starlette(fallback={"/": "/offline"}, fallback_exclude=exclude)
        async with client(app) as http:
            entries = (await http.get("/precache-manifest.json")).json()
            sw = tmp_path / "sw.js"
            sw.write_text((await http.get("/sw.js")).text)
        keys = keys_of(entries)
    requests = [
        {"url": "/auth/callback?code=1", "mode": "navigate"},  # an OAuth callback
        {"url": "/files/report.pdf", "mode": "navigate"},  # a download
        {"url": "/files/report.html", "mode": "navigate"},
        {"url": "/anything", "mode": "navigate"},
    ]
    offline = run_sw(sw, tmp_path, cached=list(keys.values()), requests=requests, offline=True)
    fallback = "cached:" + keys["/offline"]
    assert offline["requests"] == ["throws", "throws", fallback, fallback]
    online = run_sw(sw, tmp_path, cached=list(keys.values()), requests=requests[:1])
    assert online["requests"] == [f"network:{ORIGIN}/auth/callback?code=1"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("/api/", r"APPCACHE_FALLBACK_EXCLUDE is '/api/'; give a list"),
        (["api/"], r"APPCACHE_FALLBACK_EXCLUDE\[0\].*must start with '/'"),
        ([3], r"APPCACHE_FALLBACK_EXCLUDE\[0\]"),
        ([re.compile("^/a$", re.MULTILINE)], r"only re.IGNORECASE"),
        ([re.compile(r"^/a\Z")], r"do not exist in the worker"),
    ],
)
def test_bad_fallback_exclusions_are_refused_naming_the_entry(
    make_app: AppFactory, value: object, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_app(APPCACHE_FALLBACK_EXCLUDE=value)


@pytest.mark.parametrize(
    ("setting", "plain"),
    [
        # The default: a dot-separated run of 8+ hex digits before the extension.
        ({}, {"/static/app.3f9a1c2b.js"}),
        # The app's own convention (Vite's app-<hash>.js), as a string or compiled.
        ({"APPCACHE_HASHED_NAMES": r"-[A-Za-z0-9_]{8}\.js$"}, {"/static/index-BVLx0bYO.js"}),
        (
            {"APPCACHE_HASHED_NAMES": re.compile(r"-[a-z0-9_]{8}\.JS$", re.I)},
            {"/static/index-BVLx0bYO.js"},
        ),
        # None: every entry carries its revision.
        ({"APPCACHE_HASHED_NAMES": None}, set()),
    ],
)
async def test_hashed_file_names_are_downloaded_without_the_revision(  # type: ignore[no-untyped-def]
    make_app: AppFactory, tmp_path: Path, setting, plain
) -> None:
    app, appcache = make_app(**setting)
    static = Path(app.root_path) / "static"
    for name in ("app.3f9a1c2b.js", "index-BVLx0bYO.js", "app.3f9a1c2.js", "3f9a1c2b3.js"):
        write(static / name, name)
    appcache.add_urls("/")
    appcache.add_folder("static")
    keys = await precache_keys(app)
    bodies = await served(app, list(keys))
    result = run_sw(await script(app, tmp_path), tmp_path, install=True, bodies=bodies)
    assert result["install"] == "ok"
    fetched = {f["url"] for f in result["fetched"]}
    expected = {ORIGIN + url if url in plain else key for url, key in keys.items()}
    assert fetched == expected
    # Stored under the same keys either way.
    assert result["caches"] == {"": sorted(keys.values())}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("([", r"APPCACHE_HASHED_NAMES is '\(\[', not a regular expression"),
        (42, r"APPCACHE_HASHED_NAMES is 42; give a regular expression"),
        (re.compile(r"\.[0-9a-f]{8}\Z"), r"\\A and \\Z do not exist in the worker"),
    ],
)
def test_a_bad_hashed_names_setting_is_refused(
    make_app: AppFactory, value: object, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_app(APPCACHE_HASHED_NAMES=value)


async def test_a_page_keeps_the_version_it_loaded_until_no_page_runs_it(
    site, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    app, appcache, keys = site
    version, _ = await appcache.hash()
    old_key = ORIGIN + "/static/app.js?__appcache_revision=0123456789abcdef0123456789abcdef"
    old = {"entries": [[ORIGIN + "/static/app.js", old_key]], "activated": True}
    cached = [*keys.values(), old_key]
    requests = [
        {"url": "/static/app.js", "mode": "no-cors", "clientId": "page-old"},
        {"url": "/static/app.js", "mode": "no-cors", "clientId": "page-new"},
        {"url": "/", "mode": "navigate", "resultingClientId": "page-reloaded"},
    ]
    result = run_sw(
        await script(app, tmp_path),
        tmp_path,
        cached=cached,
        pins={"page-old": ["v1", 0], "page-gone": ["v1", 0]},
        versions={"v1": old},
        # (The page load's client is not listed yet: its page does not run yet.)
        clients=["page-old", "page-new"],
        requests=requests,
    )
    # The old page gets the bytes of the version it was loaded with; a page
    # of this version, and any page load, get this version's.
    assert result["requests"][:2] == [f"cached:{old_key}", f"cached:{keys['/static/app.js']}"]
    pins = result["pins"][ORIGIN + "/__appcache/pins"]
    # page-gone is closed; the page load just made is pinned to this version.
    assert {page: pinned[0] for page, pinned in pins.items()} == {
        "page-old": "v1",
        "page-reloaded": version,
    }
    assert old_key in result["cache"]  # a page still runs v1
    # It asks which version it runs.
    asked = run_sw(
        await script(app, tmp_path),
        tmp_path,
        pins={"page-1": ["v1", 0]},
        versions={"v1": old},
        messages=["quart-appcache:versions"],
    )
    assert asked["replies"] == [{"page": "v1", "newest": version, "update": "pinned"}]

    # Once no open page runs v1, activation (or a page load) drops its entries and record.
    for scenario in ({"activate": True}, {"requests": [{"url": "/", "mode": "navigate"}]}):
        dropped = run_sw(
            await script(app, tmp_path),
            tmp_path,
            cached=cached,
            pins={"page-old": ["v1", 0]},
            versions={"v1": old},
            clients=["page-1"],
            **scenario,
        )
        assert sorted(dropped["cache"]) == sorted(keys.values()), scenario
        assert ORIGIN + "/__appcache/version/v1" not in dropped["pins"], scenario


async def test_an_install_in_progress_is_never_cleaned_away(site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, _, keys = site
    newer_key = ORIGIN + "/static/app.js?__appcache_revision=fedcba9876543210fedcba9876543210"
    newer = {"entries": [[ORIGIN + "/static/app.js", newer_key]], "activated": False}
    result = run_sw(
        await script(app, tmp_path),
        tmp_path,
        cached=[*keys.values(), newer_key],
        pins={"page-old": ["v1", 0]},
        versions={"v3": newer, "v1": {"entries": [], "activated": True}},
        requests=[{"url": "/", "mode": "navigate"}],
    )
    assert newer_key in result["cache"]
    assert ORIGIN + "/__appcache/version/v3" in result["pins"]
    assert ORIGIN + "/__appcache/version/v1" not in result["pins"]


async def test_only_a_worker_with_queue_rules_carries_the_queue(
    make_app: AppFactory, tmp_path: Path
) -> None:
    plain, plain_cache = make_app()
    plain_cache.add_urls("/")
    queued, queued_cache = make_app(APPCACHE_QUEUE=[{"match": "/api/notes", "methods": ["POST"]}])
    queued_cache.add_urls("/")
    sizes = {}
    for name, app in (("plain", plain), ("queue", queued)):
        (tmp_path / name).mkdir()
        path = await script(app, tmp_path / name)
        subprocess.run([str(NODE), "--check", str(path)], check=True, timeout=30)
        source = path.read_text()
        sizes[name] = len(source)
        assert ("indexedDB" in source) is (name == "queue"), name
        # Either way the worker installs what it precaches.
        keys = await precache_keys(app)
        result = run_sw(path, tmp_path / name, install=True, bodies=await served(app, list(keys)))
        assert result["install"] == "ok", result
    assert sizes["queue"] - sizes["plain"] > 5000  # what the others never download
    rule = 'const QUEUE = [{"match": "/api/notes", "methods": ["POST"], "maxAge": 86400.0'
    assert rule in (tmp_path / "queue" / "sw.js").read_text()
