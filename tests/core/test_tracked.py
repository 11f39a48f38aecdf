"""One definition of "tracked": exactly the URLs the bundle lists."""

from __future__ import annotations

import pytest

from quart_appcache.tracked import UrlMatcher, cache_control_for_tracked, request_key, route_path


def test_listed_urls_match_the_requests_browsers_send() -> None:
    tracked = UrlMatcher(
        ["/caf%C3%A9", "/search?q=%C3%BC", "/static/a%20b.js", "/static/100%25.js"]
    )
    # ASGI servers hand over the decoded path and the raw query string.
    assert request_key("/café", b"") in tracked
    assert request_key("/search", b"q=%C3%BC") in tracked
    assert request_key("/static/a b.js", b"") in tracked
    assert request_key("/static/100%.js", b"") in tracked
    assert request_key("/search", b"q=other") not in tracked
    assert request_key("/search", b"") not in tracked
    assert request_key("/café", b"utm_source=x") not in tracked


def test_only_listed_files_count_not_everything_under_a_folder() -> None:
    # A folder mounted at "/" lists its files; the app's other routes are not tracked.
    tracked = UrlMatcher(["/", "/app.js", "/css/app.css"])
    assert request_key("/app.js", b"") in tracked
    assert request_key("/api/items", b"") not in tracked
    assert request_key("/css/other.css", b"") not in tracked
    assert request_key("/.hidden", b"") not in tracked


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/app/static/x.js", "/app", "/static/x.js"),  # hypercorn: the client's path
        ("/static/x.js", "/app", "/static/x.js"),  # a client that left out the prefix
        ("/app", "/app", "/"),
        ("/application/x", "/app", "/application/x"),  # not a segment boundary
        ("/x", "", "/x"),
    ],
)
def test_route_path_removes_the_prefix_once(path: str, root: str, expected: str) -> None:
    assert route_path(path, root) == expected


def test_cache_control_keeps_other_directives() -> None:
    assert cache_control_for_tracked(None, debug=False) == "max-age=0, must-revalidate"
    assert cache_control_for_tracked("public, max-age=43200", debug=False) == (
        "public, max-age=0, must-revalidate"
    )
    assert cache_control_for_tracked("private, immutable, max-age=3", debug=True) == (
        "private, no-cache"
    )
    assert cache_control_for_tracked("no-store", debug=False) == (
        "no-store, max-age=0, must-revalidate"
    )
    assert cache_control_for_tracked("stale-while-revalidate=60", debug=False) == (
        "max-age=0, must-revalidate"
    )
