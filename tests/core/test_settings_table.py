"""One table of settings: both adapters and the configuration page agree with it."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from quart_appcache.settings import FIELDS
from quart_appcache.starlette import Appcache as StarletteAppcache

from ..conftest import AppFactory

REPO = Path(__file__).resolve().parents[2]
# (hash_helper and sw_skip_waiting: deprecated keywords, outside the table.)
STARLETTE_ONLY = {"app", "templates", "debug", "base_dir", "hash_helper", "sw_skip_waiting"}


def normalized(value: object) -> object:
    # The Starlette keywords take tuples for list settings and None for {}.
    return list(value) if isinstance(value, tuple) else value


def test_the_starlette_keywords_are_the_table() -> None:
    parameters = inspect.signature(StarletteAppcache.__init__).parameters
    keywords = {name for name in parameters if name != "self"} - STARLETTE_ONLY
    assert keywords == {item.keyword for item in FIELDS}
    for item in FIELDS:
        default = normalized(parameters[item.keyword].default)
        if default is None and item.default == {}:
            default = {}
        assert default == item.default, item.key


def test_the_quart_config_is_the_table(make_app: AppFactory) -> None:
    app, _ = make_app()
    for item in FIELDS:
        assert app.config[item.key] == item.default, item.key


def test_the_configuration_page_lists_every_setting_with_its_default() -> None:
    page = (REPO / "docs" / "configuration.md").read_text()
    rows = {
        key: (keyword, ast.literal_eval(default))
        for key, keyword, default in re.findall(
            r"^\| `(APPCACHE_\w+)` \| `(\w+)` \| `([^`]*)` \|", page, flags=re.M
        )
    }
    assert set(rows) == {item.key for item in FIELDS}
    for item in FIELDS:
        assert rows[item.key] == (item.keyword, item.default), item.key


def test_the_readme_links_the_configuration_page() -> None:
    assert "docs/configuration.md" in (REPO / "README.md").read_text()


def test_the_readme_lists_every_url_the_registry_serves() -> None:
    from quart_appcache.artifacts import REGISTRY

    readme = (REPO / "README.md").read_text()
    listed = dict(re.findall(r"^\| `(/[^`]*)` \| `(APPCACHE_\w+)` \|", readme, flags=re.M))
    assert listed == {spec.default: spec.key for spec in REGISTRY}


def test_the_worker_template_variables_are_documented() -> None:
    from quart_appcache.bundle import Snapshot
    from quart_appcache.render import PrefixedBundle, sw_context
    from quart_appcache.settings import Settings

    settings = Settings.from_config({}, default_build_dir=None)
    snapshot = Snapshot("v", "t", ())
    given = set(sw_context(PrefixedBundle.of(snapshot, settings), settings))
    page = (REPO / "docs" / "service-worker.md").read_text()
    listed = page.split("`APPCACHE_SW_TEMPLATE`); it gets", 1)[1].split("each already", 1)[0]
    assert set(re.findall(r"`(\w+)`", listed)) == given
