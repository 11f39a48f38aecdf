"""The settings: defaults, checks and the resolved values of one app.

Settings are resolved once per app at ``init_app`` and kept with that app,
never on the extension object, so two apps initialised from one
``Appcache()`` cannot see each other's config. The Quart adapter reads them
from ``app.config`` (``APPCACHE_*`` keys); the Starlette adapter from keyword
arguments named after the keys (``fallback=`` for ``APPCACHE_FALLBACK``).
Errors name the setting the way the user wrote it. No framework imports.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError, InvalidURLError
from .runtime import Rule, check_rules
from .urls import check_origin_prefix, check_prefix, check_url
from .webapp import check_members

__all__ = ["DEFAULTS", "KeyNames", "Settings", "parse_url_base"]

DEFAULTS: dict[str, Any] = {
    "APPCACHE_URL": "/manifest.appcache",
    "APPCACHE_TEMPLATE": "manifest.appcache",
    "APPCACHE_URL_BASE": "http://localhost",
    "APPCACHE_FALLBACK": {},
    "APPCACHE_NETWORK": ["*"],
    "APPCACHE_FINALIZE": None,
    "APPCACHE_FETCH_TIMEOUT": 30.0,
    "APPCACHE_PRECACHE_URL": "/precache-manifest.json",
    "APPCACHE_SW_URL": "/sw.js",
    "APPCACHE_SW_TEMPLATE": "sw.js",
    "APPCACHE_SW_SKIP_WAITING": False,
    "APPCACHE_SW_CLIENT_URL": "/appcache.js",
    "APPCACHE_SW_UPDATE_INTERVAL": 3600,
    "APPCACHE_SW_VERIFY": "files",
    "APPCACHE_SW_UNREGISTER": False,
    "APPCACHE_SW_IGNORED_PARAMS": ["utm_*", "fbclid", "gclid"],
    "APPCACHE_RUNTIME": [],
    "APPCACHE_WEB_MANIFEST": None,
    "APPCACHE_WEB_MANIFEST_URL": "/manifest.webmanifest",
    "APPCACHE_ICON": None,
    "APPCACHE_ICONS_URL": "/appcache-icons/",
    "APPCACHE_BUILD_DIR": None,
    "APPCACHE_BUILD_CHECK": "content",
}
BUILD_CHECKS = ("content", "files", "size")
# Settings still accepted for one release, ignored, with a DeprecationWarning.
DEPRECATED = {
    "APPCACHE_HASH_HELPER": "quart_appcache no longer starts a helper process to hash files.",
}
VERIFY_MODES = ("files", "all", "none")
OWN_URL_KEYS = (
    "APPCACHE_URL",
    "APPCACHE_PRECACHE_URL",
    "APPCACHE_SW_URL",
    "APPCACHE_SW_CLIENT_URL",
    "APPCACHE_WEB_MANIFEST_URL",
)


@dataclass(frozen=True)
class KeyNames:
    """How one adapter's users write the settings, for error messages.

    Attributes:
        name: turns a config key (``APPCACHE_FALLBACK``) into what the user
            wrote (the key itself, or ``Appcache(fallback=...)``).
        build_command: the command that writes a deploy-time build.
    """

    name: Callable[[str], str] = str
    build_command: str = "quart appcache build"


def parse_url_base(value: object, key: str = "APPCACHE_URL_BASE") -> tuple[str, str]:
    """Check ``APPCACHE_URL_BASE`` and return its ``(scheme, host)``.

    Raises:
        ConfigError: it is not ``http(s)://host[:port]``.
    """
    parts = urlsplit(value) if isinstance(value, str) else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ConfigError(
            f"{key} is {value!r}; it must be a scheme and host like "
            "'http://localhost' or 'https://example.com:8443', without a path."
        )
    return parts.scheme, parts.netloc


@dataclass(frozen=True)
class Settings:
    """The checked settings of one app."""

    url: str
    template: str
    url_base: tuple[str, str]
    fallback: dict[str, str]
    network: tuple[str, ...]
    finalize: bool | None
    fetch_timeout: float
    precache_url: str | None
    sw_url: str | None
    sw_template: str
    sw_skip_waiting: bool
    sw_client_url: str | None
    sw_update_interval: float | None
    sw_verify: str
    sw_unregister: bool
    sw_ignored_params: tuple[str, ...]
    runtime: tuple[Rule, ...]
    web_manifest: dict[str, Any] | None
    web_manifest_url: str
    icon: str | None
    icons_url: str
    build_dir: str | None
    build_check: str = "content"
    names: KeyNames = field(default=KeyNames(), compare=False)

    @classmethod
    def from_config(
        cls,
        config: MutableMapping[str, Any],
        *,
        default_build_dir: str | None,
        names: KeyNames | None = None,
    ) -> Settings:
        """Fill in defaults with ``setdefault`` and check every key.

        Args:
            config: the ``APPCACHE_*`` keys (missing ones are filled in).
            default_build_dir: the build folder when ``APPCACHE_BUILD_DIR``
                is ``None`` (``None``: no build is read at startup).
            names: how errors name the keys (default: the keys themselves).

        Raises:
            ConfigError: a key holds a value of the wrong kind; the message
                names the key.
        """
        names = names or KeyNames()
        name = names.name
        for key in DEPRECATED:
            if key in config:
                warnings.warn(
                    f"{name(key)} is deprecated and ignored: {DEPRECATED[key]} "
                    "Remove the setting; the next release refuses it.",
                    DeprecationWarning,
                    stacklevel=4,
                )
        for key, value in DEFAULTS.items():
            config.setdefault(key, value.copy() if isinstance(value, dict | list) else value)
        urls = {key: _own_url(config, key, name) for key in OWN_URL_KEYS}
        manifest_url = urls["APPCACHE_URL"]
        if manifest_url is None:
            raise ConfigError(
                f"{name('APPCACHE_URL')} is None; the manifest needs a URL like "
                "'/manifest.appcache'."
            )
        taken = [url for url in urls.values() if url is not None]
        if len(set(taken)) != len(taken):
            shown = {name(key): url for key, url in urls.items()}
            raise ConfigError(
                f"{', '.join(shown)} must differ; got {shown}. Give each its own URL."
            )
        build_dir = config["APPCACHE_BUILD_DIR"]
        if build_dir is not None and not isinstance(build_dir, str | os.PathLike):
            raise ConfigError(
                f"{name('APPCACHE_BUILD_DIR')} is {build_dir!r}; give a folder path or None."
            )
        return cls(
            url=manifest_url,
            template=_string(config, "APPCACHE_TEMPLATE", name),
            url_base=parse_url_base(config["APPCACHE_URL_BASE"], name("APPCACHE_URL_BASE")),
            fallback=_fallback(config["APPCACHE_FALLBACK"], name("APPCACHE_FALLBACK")),
            network=_network(config["APPCACHE_NETWORK"], name("APPCACHE_NETWORK")),
            finalize=_optional_bool(config, "APPCACHE_FINALIZE", name),
            fetch_timeout=_timeout(config["APPCACHE_FETCH_TIMEOUT"], name),
            precache_url=urls["APPCACHE_PRECACHE_URL"],
            sw_url=urls["APPCACHE_SW_URL"],
            sw_template=_string(config, "APPCACHE_SW_TEMPLATE", name),
            sw_skip_waiting=bool(_optional_bool(config, "APPCACHE_SW_SKIP_WAITING", name)),
            sw_client_url=urls["APPCACHE_SW_CLIENT_URL"],
            sw_update_interval=_interval(config["APPCACHE_SW_UPDATE_INTERVAL"], name),
            sw_verify=_choice(config, "APPCACHE_SW_VERIFY", VERIFY_MODES, name),
            sw_unregister=bool(_optional_bool(config, "APPCACHE_SW_UNREGISTER", name)),
            sw_ignored_params=_patterns(config["APPCACHE_SW_IGNORED_PARAMS"], name),
            runtime=check_rules(config["APPCACHE_RUNTIME"], name("APPCACHE_RUNTIME")),
            web_manifest=check_members(
                config["APPCACHE_WEB_MANIFEST"], name("APPCACHE_WEB_MANIFEST")
            ),
            web_manifest_url=_required(
                urls["APPCACHE_WEB_MANIFEST_URL"], "APPCACHE_WEB_MANIFEST_URL", name
            ),
            icon=_icon(config["APPCACHE_ICON"], name),
            icons_url=_icons_url(config["APPCACHE_ICONS_URL"], name),
            build_dir=os.fspath(build_dir) if build_dir is not None else default_build_dir,
            build_check=_choice(config, "APPCACHE_BUILD_CHECK", BUILD_CHECKS, name),
            names=names,
        )

    @property
    def reserved(self) -> dict[str, str]:
        """The extension's own URLs, which must never be cached, by the setting's name."""
        own = {
            self.url: "APPCACHE_URL",
            self.precache_url: "APPCACHE_PRECACHE_URL",
            self.sw_url: "APPCACHE_SW_URL",
            self.sw_client_url: "APPCACHE_SW_CLIENT_URL",
            self.web_manifest_url: "APPCACHE_WEB_MANIFEST_URL",
            self.icons_url: "APPCACHE_ICONS_URL",  # a prefix: every URL under it
        }
        return {url: self.names.name(key) for url, key in own.items() if url is not None}


def _own_url(config: Mapping[str, Any], key: str, name: Callable[[str], str]) -> str | None:
    value = config[key]
    if value is None:
        return None
    try:
        url = check_url(value, source=name(key))
    except InvalidURLError as error:
        raise ConfigError(str(error)) from None
    if "?" in url:
        raise ConfigError(f"{name(key)} is {value!r}; give a path without a query string.")
    return url


def _string(config: Mapping[str, Any], key: str, name: Callable[[str], str]) -> str:
    value = config[key]
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{name(key)} is {value!r}; give a template name like {DEFAULTS[key]!r}.")
    return value


def _choice(
    config: Mapping[str, Any], key: str, choices: tuple[str, ...], name: Callable[[str], str]
) -> str:
    value = config[key]
    if value not in choices:
        *first, last = [repr(choice) for choice in choices]
        shown = f"{', '.join(first)} or {last}" if first else last
        raise ConfigError(f"{name(key)} is {value!r}; give {shown}.")
    return str(value)


def _optional_bool(config: Mapping[str, Any], key: str, name: Callable[[str], str]) -> bool | None:
    value = config[key]
    if value is not None and not isinstance(value, bool):
        raise ConfigError(f"{name(key)} is {value!r}; give True, False or None.")
    return value


def _timeout(value: object, name: Callable[[str], str]) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(
            f"{name('APPCACHE_FETCH_TIMEOUT')} is {value!r}; give a number of seconds above 0."
        )
    return float(value)


def _required(url: str | None, key: str, name: Callable[[str], str]) -> str:
    if url is None:
        raise ConfigError(f"{name(key)} is None; give a URL like {DEFAULTS[key]!r}.")
    return url


def _icon(value: object, name: Callable[[str], str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        raise ConfigError(
            f"{name('APPCACHE_ICON')} is {value!r}; give the path of a square PNG of at "
            "least 512x512 pixels, or None."
        )
    return os.fspath(value)


def _icons_url(value: object, name: Callable[[str], str]) -> str:
    key = name("APPCACHE_ICONS_URL")
    try:
        url = check_url(value, source=key)
    except InvalidURLError as error:
        raise ConfigError(str(error)) from None
    if "?" in url or not url.endswith("/") or url == "/":
        raise ConfigError(
            f"{key} is {value!r}; give a folder URL of its own, ending in '/', like "
            "'/appcache-icons/'."
        )
    return url


def _interval(value: object, name: Callable[[str], str]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(
            f"{name('APPCACHE_SW_UPDATE_INTERVAL')} is {value!r}; give a number of seconds "
            "above 0, or None to check only when a page is shown again."
        )
    return float(value)


def _patterns(value: object, name: Callable[[str], str]) -> tuple[str, ...]:
    key = name("APPCACHE_SW_IGNORED_PARAMS")
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError(
            f"{key} is {value!r}; give a list of query parameter names, '*' and '?' "
            "allowed, like ['utm_*', 'fbclid']."
        )
    for item in value:
        if (
            not isinstance(item, str)
            or not item
            or any(c in item for c in "&=#")
            or (any(c.isspace() for c in item))
        ):
            raise ConfigError(
                f"{key} holds {item!r}; each entry is a query parameter name, '*' and '?' "
                "allowed, without '&', '=', '#' or spaces."
            )
    return tuple(value)


def _fallback(value: object, key: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{key} is {value!r}; give a mapping of URL prefix to fallback "
            "URL, like {'/': '/offline'}."
        )
    try:
        return {
            check_prefix(prefix, source=key): check_url(target, source=key)
            for prefix, target in value.items()
        }
    except InvalidURLError as error:
        raise ConfigError(str(error)) from None


def _network(value: object, key: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError(
            f"{key} is {value!r}; give a list of URL prefixes or ['*'] (a "
            "bare string is a common slip)."
        )
    try:
        return tuple(_network_entry(item, key) for item in value)
    except InvalidURLError as error:
        raise ConfigError(str(error)) from None


def _network_entry(item: object, key: str) -> str:
    # '*', a path prefix of this app, or an absolute URL prefix of any origin.
    if item == "*":
        return "*"
    if isinstance(item, str) and "://" in item:
        return check_origin_prefix(item, source=key)
    return check_prefix(item, source=key)
