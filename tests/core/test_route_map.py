"""Route paths as the worker's patterns, and which routes are not pages."""

from __future__ import annotations

import re
from pathlib import Path

from quart import Quart

from quart_appcache import Appcache
from quart_appcache.route_map import Route, non_pages_of, path_pattern


def test_a_route_path_becomes_an_anchored_pattern_over_encoded_paths() -> None:
    assert path_pattern("/api/items") == "^/api/items$"
    assert path_pattern("/items/{item_id}") == "^/items/[^/]+$"
    assert path_pattern("/items/{item_id:int}") == "^/items/[^/]+$"
    assert path_pattern("/files/{rest:path}") == "^/files/.*$"
    # Browsers send the encoded path: the pattern holds the encoded form, escaped.
    pattern = path_pattern("/café/report.v2(1)")
    assert pattern == r"^/caf%C3%A9/report\.v2\(1\)$"
    assert re.search(pattern, "/caf%C3%A9/report.v2(1)")
    assert not re.search(pattern, "/caf%C3%A9/reportXv2(1)")


def test_quart_rules_are_read_with_their_parameters_and_static_folders(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    app = Quart("rules", root_path=str(tmp_path))

    async def view(**_: object) -> str:
        return "x"

    app.add_url_rule("/items/<int:item_id>", "item", view)
    app.add_url_rule("/files/<path:rest>", "files", view)
    app.add_url_rule("/form", "form", view, methods=["POST"])
    appcache = Appcache(app)
    routes = {route.path: route for route in appcache.site(app).host.routes()}
    assert routes["/items/{item_id}"].params
    assert "/files/{rest:path}" in routes
    assert routes["/form"].get is False
    assert routes["/static/{filename:path}"].folders == (str(tmp_path / "static"),)


def test_non_pages_from_the_route_map_alone() -> None:
    routes = [
        Route("/", kind="page"),
        Route("/api/{name}", kind="other"),
        Route("/form", get=False),
        Route("/unknown"),
        Route("/downloads", mount=True, folders=("/srv/downloads",)),
        Route("/static", mount=True, folders=("/srv/static",)),
        Route("/api2", mount=True),
        Route("", mount=True),  # a mount at the root is the whole site: left be
    ]
    prefixes, patterns = non_pages_of(routes, {"/srv/static"})
    assert prefixes == ["/downloads/", "/api2/"]
    assert patterns == ["^/api/[^/]+$", "^/form$", "^/downloads$", "^/api2$"]
