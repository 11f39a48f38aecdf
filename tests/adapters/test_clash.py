"""One route-clash check: both adapters refuse an app route on any URL the
extension serves, the same way, at init and at startup."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.testing.app import LifespanError
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from quart_appcache import Appcache as QuartAppcache
from quart_appcache import ConfigError
from quart_appcache.starlette import Appcache as StarletteAppcache
from quart_appcache.starlette.host import LifespanError as StarletteLifespanError

from ..core.test_webapp import MEMBERS, source_png

# Every URL the extension serves, with the setting that chose it (as the
# Quart adapter names it; Starlette names the keyword).
SERVED = [
    ("/manifest.appcache", "APPCACHE_URL", "url"),
    ("/precache-manifest.json", "APPCACHE_PRECACHE_URL", "precache_url"),
    ("/sw.js", "APPCACHE_SW_URL", "sw_url"),
    ("/appcache.js", "APPCACHE_SW_CLIENT_URL", "sw_client_url"),
    ("/manifest.webmanifest", "APPCACHE_WEB_MANIFEST_URL", "web_manifest_url"),
    ("/appcache-icons/icon-192.png", "APPCACHE_ICONS_URL", "icons_url"),
    ("/appcache-icons/favicon-32.png", "APPCACHE_ICONS_URL", "icons_url"),
]


async def mine(*_: Any) -> Any:
    return PlainTextResponse("mine")


class Framework:
    """Builds a minimal app of one framework with a route of its own."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.root = root
        source_png(root / "icon.png")

    def key(self, quart_key: str, keyword: str) -> str:
        return quart_key if self.name == "quart" else rf"Appcache\({keyword}=\.\.\.\)"

    def app(self, path: str | None) -> Any:
        if self.name == "quart":
            app = Quart("clash", root_path=str(self.root))
            if path is not None:
                app.add_url_rule(path, "mine", lambda: "mine")
            return app
        routes = [Route(path, mine, name="mine")] if path is not None else []
        return Starlette(routes=routes)

    def init(self, app: Any) -> Any:
        if self.name == "quart":
            app.config["APPCACHE_WEB_MANIFEST"] = dict(MEMBERS)
            app.config["APPCACHE_ICON"] = "icon.png"
            return QuartAppcache(app)
        return StarletteAppcache(
            app, web_manifest=dict(MEMBERS), icon="icon.png", base_dir=self.root, debug=True
        )

    def add_later(self, app: Any, path: str) -> None:
        if self.name == "quart":
            app.add_url_rule(path, "mine", lambda: "mine")
        else:
            app.add_route(path, mine, name="mine")

    @asynccontextmanager
    async def started(self, app: Any) -> AsyncIterator[None]:
        if self.name == "quart":
            async with app.test_app():
                yield
        else:
            site = StarletteAppcache.site(app.state.appcache, app)
            async with site.host.lifespan():
                yield


@pytest.fixture(params=["quart", "starlette"])
def framework(request: pytest.FixtureRequest, tmp_path: Path) -> Framework:
    return Framework(request.param, tmp_path / "app")


@pytest.mark.parametrize(("path", "quart_key", "keyword"), SERVED)
def test_a_route_on_a_served_url_is_refused_at_init(
    framework: Framework, path: str, quart_key: str, keyword: str
) -> None:
    key = framework.key(quart_key, keyword)
    with pytest.raises(ConfigError, match=rf"^{key} is .*but the app also routes it to 'mine'"):
        framework.init(framework.app(path))


@pytest.mark.parametrize(("path", "quart_key", "keyword"), SERVED)
async def test_a_route_added_after_init_is_refused_at_startup(
    framework: Framework, path: str, quart_key: str, keyword: str
) -> None:
    app = framework.app(None)
    framework.init(app)
    framework.add_later(app, path)
    key = framework.key(quart_key, keyword)
    with pytest.raises((ConfigError, LifespanError, StarletteLifespanError)) as caught:
        async with framework.started(app):
            pass
    assert re.search(rf"{key} is .*but the app also routes it to 'mine'", str(caught.value))


def test_both_adapters_say_the_same_thing(tmp_path: Path) -> None:
    messages = []
    for name in ("quart", "starlette"):
        framework = Framework(name, tmp_path / name)
        with pytest.raises(ConfigError) as caught:
            framework.init(framework.app("/appcache-icons/icon-512.png"))
        messages.append(str(caught.value).split(" is ", 1)[1])
    assert messages[0] == messages[1].replace("Appcache(icons_url=...)", "APPCACHE_ICONS_URL")
    assert messages[0].startswith(
        "'/appcache-icons/', so the extension serves '/appcache-icons/icon-512.png', but the "
        "app also routes it to 'mine'. Remove that route or choose another "
    )


def test_routes_with_parameters_and_other_urls_are_fine(framework: Framework) -> None:
    app = framework.app(None)
    if framework.name == "quart":
        app.add_url_rule("/<path:page>", "catch_all", lambda page: page)
        app.add_url_rule("/sw.json", "near", lambda: "near")
    else:
        app.add_route("/{page:path}", mine, name="catch_all")
        app.add_route("/sw.json", mine, name="near")
    framework.init(app)
