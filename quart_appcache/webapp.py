"""The web app manifest: its members, checked; its JSON; the head tags that link it.

The JSON uses URLs relative to the manifest's own URL (``start_url: "./"``,
icons ``appcache-icons/icon-192.png?v=...``), so the same bytes work for an
app served at the root and under a URL prefix, and the version does not
depend on the prefix. No framework imports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .colors import parse_css_color
from .errors import ConfigError

__all__ = ["DISPLAYS", "check_members", "manifest_json", "relative_root"]

DISPLAYS = ("fullscreen", "standalone", "minimal-ui", "browser")
COLOR_MEMBERS = ("theme_color", "background_color")


def check_members(value: object, key: str) -> dict[str, Any] | None:
    """Check ``APPCACHE_WEB_MANIFEST``: a mapping of manifest members, or ``None``.

    Raises:
        ConfigError: not a mapping, no ``name``, a ``display`` browsers do not
            know, a colour that is not a CSS colour, or a member that is not
            JSON; the message names the member and its value.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{key} is {value!r}; give a dict of web app manifest members, like "
            "{'name': 'My App', 'theme_color': '#2a6'}, or None."
        )
    members = dict(value)
    name = members.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(
            f"{key} has no 'name' (got {name!r}); browsers install only apps with a name."
        )
    display = members.get("display", "standalone")
    if display not in DISPLAYS:
        shown = ", ".join(repr(choice) for choice in DISPLAYS)
        raise ConfigError(f"{key}['display'] is {display!r}; give one of {shown}.")
    for member in COLOR_MEMBERS:
        color = members.get(member)
        if color is not None and (not isinstance(color, str) or parse_css_color(color) is None):
            raise ConfigError(
                f"{key}[{member!r}] is {color!r}, which is not a CSS colour; give a name "
                "('teal'), '#rgb', '#rrggbb', '#rrggbbaa', rgb()/rgba() or hsl()/hsla()."
            )
    for member, item in members.items():
        try:
            json.dumps(item, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ConfigError(
                f"{key}[{member!r}] is {item!r}, which is not JSON ({error}). Give strings, "
                "numbers, lists and dicts."
            ) from None
    return members


def relative_root(manifest_url: str) -> str:
    """The app's root, relative to the manifest's URL (``./``, ``../``...)."""
    depth = manifest_url.count("/") - 1
    return "./" if depth <= 0 else "../" * depth


def manifest_json(
    members: Mapping[str, Any], manifest_url: str, icons: list[dict[str, str]]
) -> bytes:
    """The web app manifest's bytes: the members with their defaults filled in.

    ``short_name`` defaults to ``name``, ``start_url`` and ``scope`` to the
    app's root, ``display`` to ``standalone``; ``icons`` are the generated
    ones unless the members list their own.
    """
    root = relative_root(manifest_url)
    data = dict(members)
    data.setdefault("short_name", data["name"])
    data.setdefault("start_url", root)
    data.setdefault("scope", root)
    data.setdefault("display", "standalone")
    if "icons" not in data and icons:
        data["icons"] = [{**icon, "src": root + icon["src"].lstrip("/")} for icon in icons]
    return json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
