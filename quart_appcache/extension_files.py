"""What the extension serves itself and precaches with the bundle.

The page client (``appcache.js``), the web app manifest and the icons
generated from ``APPCACHE_ICON``. They are :class:`~quart_appcache.declarations.ExtensionEntry`
items at the end of the bundle, so the version covers them and the worker
precaches them: an installed app starts offline.

Icons are generated in a worker thread when the bundle is computed (never on
the event loop, never at import), once per source image: in debug mode again
only when the source file changed. Their URLs carry a token of the source
(``icon-192.png?v=...``) known from ``init_app`` on, so pages link them before
anything was generated, and the same source gives the same URLs everywhere.
No framework imports.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from .artifacts import BY_NAME, is_on
from .colors import parse_css_color
from .declarations import ExtensionEntry
from .errors import ConfigError
from .icons import ALGORITHM, ICONS, check_source, generate
from .render import client_script, sw_registration
from .settings import Settings
from .webapp import manifest_json

__all__ = ["ExtensionFiles"]

MIMETYPES = {
    "client": BY_NAME["client"].mimetype,
    "manifest": BY_NAME["web_manifest"].mimetype,
    "icon": BY_NAME["icons"].mimetype,
}
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class _Icons:
    stamp: tuple[int, int, int]
    token: str
    files: dict[str, bytes] | None  # None until generated


class ExtensionFiles:
    """The page client, web app manifest and icons of one app.

    Args:
        settings: the app's settings.
        root_path: what a relative ``APPCACHE_ICON`` resolves against.

    Raises:
        ConfigError: the icon source is missing, not a square PNG of at least
            512x512 pixels, or Pillow is not installed.
    """

    def __init__(self, settings: Settings, root_path: str) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._icons: _Icons | None = None
        self.icon_path: str | None = None
        background = (settings.web_manifest or {}).get("background_color")
        rgba = parse_css_color(background) if isinstance(background, str) else None
        # An opaque fill: a translucent background colour is laid over white.
        self.fill = WHITE if rgba is None else _over_white(rgba)
        if settings.icon is not None:
            self.icon_path = os.path.join(root_path, settings.icon)
            key = settings.names.name("APPCACHE_ICON")
            data = _read_source(self.icon_path, key)
            check_source(data, self.icon_path, key)
            self._icons = _Icons(_stamp(self.icon_path), self._token(data), None)

    # -- URLs --------------------------------------------------------------------

    @property
    def client_url(self) -> str | None:
        """The page client's URL, when the worker and the client are on."""
        on = is_on("client", self.settings, icons=self.icon_path is not None)
        return self.settings.sw_client_url if on else None

    @property
    def manifest_url(self) -> str | None:
        """The web app manifest's URL, when ``APPCACHE_WEB_MANIFEST`` is set."""
        on = is_on("web_manifest", self.settings, icons=self.icon_path is not None)
        return self.settings.web_manifest_url if on else None

    def icon_url(self, name: str) -> str | None:
        """An icon's URL with the token of its source, or ``None`` without icons."""
        icons = self._icons
        if icons is None:
            return None
        return f"{self.settings.icons_url}{name}?v={icons.token}"

    @property
    def token(self) -> str | None:
        """The icons' source token (part of the build fingerprint)."""
        return self._icons.token if self._icons is not None else None

    # -- entries -----------------------------------------------------------------

    def entries(self) -> list[ExtensionEntry]:
        """Every artifact with its bytes, generating icons when needed (in a thread)."""
        out: list[ExtensionEntry] = []
        client = self.client_url
        if client is not None:
            out.append(ExtensionEntry(client, client_script(), MIMETYPES["client"]))
        icons = self._current_icons()
        if self.settings.web_manifest is not None and self.manifest_url is not None:
            listed = (
                [
                    {
                        "src": self._relative_icon(name),
                        "sizes": f"{size}x{size}",
                        "type": "image/png",
                        "purpose": purpose,
                    }
                    for name, size, purpose in (
                        ("icon-192.png", 192, "any"),
                        ("icon-512.png", 512, "any"),
                        ("icon-maskable-512.png", 512, "maskable"),
                    )
                ]
                if icons is not None
                else []
            )
            body = manifest_json(self.settings.web_manifest, self.manifest_url, listed)
            out.append(ExtensionEntry(self.manifest_url, body, MIMETYPES["manifest"]))
        if icons is not None and icons.files is not None:
            for spec in ICONS:
                url = self.icon_url(spec.name)
                assert url is not None
                out.append(ExtensionEntry(url, icons.files[spec.name], MIMETYPES["icon"]))
        return out

    def _relative_icon(self, name: str) -> str:
        url = self.icon_url(name)
        assert url is not None
        return url.lstrip("/")

    def _current_icons(self) -> _Icons | None:
        if self.icon_path is None:
            return None
        key = self.settings.names.name("APPCACHE_ICON")
        with self._lock:  # concurrent computations generate once
            icons = self._icons
            stamp = _stamp(self.icon_path)
            if icons is not None and icons.files is not None and icons.stamp == stamp:
                return icons
            data = _read_source(self.icon_path, key)
            token = self._token(data)
            if icons is not None and icons.files is not None and icons.token == token:
                self._icons = _Icons(stamp, token, icons.files)  # touched, not changed
            else:
                check_source(data, self.icon_path, key)
                self._icons = _Icons(stamp, token, generate(data, self.fill))
            return self._icons

    def _token(self, data: bytes) -> str:
        digest = hashlib.sha256(data)
        digest.update(f"|{self.fill}|{ALGORITHM}".encode())
        return digest.hexdigest()[:16]

    # -- head tags ---------------------------------------------------------------

    def head(self, prefix: str) -> Markup:
        """``appcache_head()``: the manifest link, theme colour, icons and the worker's script."""
        tags: list[str] = []
        members: dict[str, Any] = self.settings.web_manifest or {}
        if self.manifest_url is not None:
            tags.append(f'<link rel="manifest" href="{escape(prefix + self.manifest_url)}">')
        theme = members.get("theme_color")
        if isinstance(theme, str):
            tags.append(f'<meta name="theme-color" content="{escape(theme)}">')
        touch = self.icon_url("apple-touch-icon.png")
        if touch is not None:
            tags.append(f'<link rel="apple-touch-icon" href="{escape(prefix + touch)}">')
            favicon = self.icon_url("favicon-32.png")
            tags.append(
                f'<link rel="icon" href="{escape(prefix + str(favicon))}" '
                'sizes="32x32" type="image/png">'
            )
        script = sw_registration(self.settings, prefix)
        if script:
            tags.append(str(script))
        return Markup("\n".join(tags))


def _stamp(path: str) -> tuple[int, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1, -1)
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _read_source(path: str, key: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise ConfigError(
            f"{key} is {path!r}, which cannot be read: {error.strerror or error}. "
            "Give the path of a square PNG of at least 512x512 pixels (relative paths "
            "resolve against the app's root path)."
        ) from None


def _over_white(rgba: tuple[int, int, int, int]) -> tuple[int, int, int]:
    alpha = rgba[3] / 255
    r, g, b = (round(channel * alpha + 255 * (1 - alpha)) for channel in rgba[:3])
    return (r, g, b)
