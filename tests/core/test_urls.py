"""URL checks and percent-encoding."""

from __future__ import annotations

import pytest

from quart_appcache import InvalidURLError
from quart_appcache.urls import check_prefix, check_url, encode_segment


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("/", "/"),
        ("/offline", "/offline"),
        ("/caf%C3%A9", "/caf%C3%A9"),
        ("/café", "/caf%C3%A9"),
        ("/a{b}", "/a%7Bb%7D"),
        ("/search?q=a b".replace(" ", "+"), "/search?q=a+b"),
        ("/p?x=<y>", "/p?x=%3Cy%3E"),
        ("/a+b:c@d!$&'()*,;=", "/a+b:c@d!$&'()*,;="),
    ],
)
def test_check_url_canonical_form(url: str, canonical: str) -> None:
    assert check_url(url) == canonical


def test_check_url_names_its_source() -> None:
    with pytest.raises(InvalidURLError, match="APPCACHE_FALLBACK"):
        check_url("offline", source="APPCACHE_FALLBACK")


def test_prefix_allows_and_encodes_a_space_but_not_other_whitespace() -> None:
    assert check_prefix("/static/my dir", source="x") == "/static/my%20dir"
    with pytest.raises(InvalidURLError):
        check_prefix("/static/my\tdir", source="x")


@pytest.mark.parametrize(
    ("name", "segment"),
    [
        ("plain.js", "plain.js"),
        ("a b", "a%20b"),
        ("#?%", "%23%3F%25"),
        ("back\\slash", "back%5Cslash"),
        ("new\nline", "new%0Aline"),
        ("é", "%C3%A9"),
    ],
)
def test_encode_segment(name: str, segment: str) -> None:
    assert encode_segment(name, path="/x/" + name) == segment


def test_non_utf8_file_name_is_a_clear_error() -> None:
    name = b"bad\xff.js".decode("utf-8", "surrogateescape")
    with pytest.raises(InvalidURLError, match="not valid UTF-8"):
        encode_segment(name, path="/x/" + name)
