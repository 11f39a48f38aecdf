"""APPCACHE_RUNTIME: rules checked at init_app, rendered into the worker."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from quart_appcache import ConfigError

from ..conftest import AppFactory
from .test_service_worker import NODE, script


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("navigate", r"APPCACHE_RUNTIME is 'navigate'; give a list of rules"),
        (
            [{"match": "/docs/"}],
            r"APPCACHE_RUNTIME\[0\]\['strategy'\] is None; give one of 'network-first'",
        ),
        (
            [
                {"match": "navigate", "strategy": "network-first"},
                {"match": "/a/", "strategy": "fastest"},
            ],
            r"APPCACHE_RUNTIME\[1\]\['strategy'\] is 'fastest'",
        ),
        (
            [{"match": "/a/", "strategy": "cache-first", "timeout": 3}],
            r"APPCACHE_RUNTIME\[0\]\['timeout'\] is 3, but only a 'network-first' rule",
        ),
        (
            [{"match": "/a/", "strategy": "network-first", "timeout": 0}],
            r"APPCACHE_RUNTIME\[0\]\['timeout'\] is 0; give a number of seconds above 0",
        ),
        (
            [{"match": "/a/", "strategy": "network-first", "max_entries": 0}],
            r"APPCACHE_RUNTIME\[0\]\['max_entries'\] is 0; give an integer of 1 or more",
        ),
        (
            [{"match": "/a/", "strategy": "network-first", "max_entries": 2.5}],
            r"\['max_entries'\] is 2.5",
        ),
        (
            [{"match": "/a/", "strategy": "network-first", "max_age": -1}],
            r"APPCACHE_RUNTIME\[0\]\['max_age'\] is -1",
        ),
        (
            [{"match": "docs/", "strategy": "network-first"}],
            r"APPCACHE_RUNTIME\[0\]\['match'\].*must start with '/'.*'navigate' for every page",
        ),
        (
            [{"match": "https://cdn.example/", "strategy": "network-first"}],
            r"APPCACHE_RUNTIME\[0\]\['match'\].*only paths on this app",
        ),
        (
            [{"match": "/a/", "strategy": "network-first", "maxEntries": 2}],
            r"APPCACHE_RUNTIME\[0\] has the unknown member 'maxEntries'",
        ),
        (["/a/"], r"APPCACHE_RUNTIME\[0\] is '/a/'; give a dict"),
        (
            [{"match": "/a/", "strategy": "network-first", "notify": True}],
            r"APPCACHE_RUNTIME\[0\]\['notify'\] is True, but only a 'stale-while-revalidate'",
        ),
        (
            [{"match": "/a/", "strategy": "network-first", "preload": True}],
            r"APPCACHE_RUNTIME\[0\]\['preload'\] is True, but navigation preload is for a 'navigate'",
        ),
        (
            [{"match": "navigate", "strategy": "cache-first", "preload": True}],
            r"\['preload'\] is True, but navigation preload",
        ),
        (
            [{"match": "/a/", "strategy": "stale-while-revalidate", "notify": "yes"}],
            r"APPCACHE_RUNTIME\[0\]\['notify'\] is 'yes'; give True or False",
        ),
        (
            [
                {"match": "/a/", "strategy": "network-first", "name": "pages"},
                {"match": "/b/", "strategy": "cache-first", "name": "pages"},
            ],
            r"APPCACHE_RUNTIME\[1\] has the cache name 'pages' of an earlier rule",
        ),
    ],
)
def test_bad_rules_name_their_position_and_member(
    make_app: AppFactory, rules: object, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_app(APPCACHE_RUNTIME=rules)


async def test_rules_reach_the_worker_under_the_prefix(
    make_app: AppFactory, tmp_path: Path
) -> None:
    rules = [
        {"match": "navigate", "strategy": "network-first", "timeout": 3, "max_entries": 20},
        {
            "match": "/api/",
            "strategy": "stale-while-revalidate",
            "max_age": 60,
            "name": "api",
            "notify": True,
            "preload": False,
        },
    ]
    app, _ = make_app(APPCACHE_RUNTIME=rules)
    text = (await script(app, tmp_path)).read_text()
    worker = json.loads(re.search(r"const RUNTIME = (.*);", text).group(1))  # type: ignore[union-attr]
    assert worker == [
        {
            "match": "navigate",
            "strategy": "network-first",
            "timeout": 3.0,
            "maxEntries": 20,
            "maxAge": None,
            "name": "runtime-0",
            "notify": False,
            "preload": False,
        },
        {
            "match": "/api/",
            "strategy": "stale-while-revalidate",
            "timeout": None,
            "maxEntries": None,
            "maxAge": 60.0,
            "name": "api",
            "notify": True,
            "preload": False,
        },
    ]
    subprocess.run([str(NODE), "--check", str(tmp_path / "sw.js")], check=True, timeout=30)
    prefixed = await (await app.test_client().get("/app/sw.js", root_path="/app")).get_data()
    assert b'"match": "/app/api/"' in prefixed
    assert b'"match": "navigate"' in prefixed
