"""The ``APPCACHE_*`` config keys: defaults, checks and the resolved settings.

Settings are resolved once per app at ``init_app`` and kept with that app,
never on the extension object, so two apps initialised from one
``Appcache()`` cannot see each other's config.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, InvalidURLError
from .inprocess import parse_url_base
from .urls import check_prefix, check_url

__all__ = ["DEFAULTS", "Settings"]

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
    "APPCACHE_BUILD_DIR": None,
}


@dataclass(frozen=True)
class Settings:
    """The checked ``APPCACHE_*`` values of one app."""

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
    build_dir: str

    @classmethod
    def from_config(cls, config: MutableMapping[str, Any], instance_path: str) -> Settings:
        """Fill in defaults with ``setdefault`` and check every key.

        Raises:
            ConfigError: a key holds a value of the wrong kind; the message
                names the key.
        """
        for key, value in DEFAULTS.items():
            config.setdefault(key, value.copy() if isinstance(value, dict | list) else value)
        urls = {
            key: _own_url(config, key)
            for key in ("APPCACHE_URL", "APPCACHE_PRECACHE_URL", "APPCACHE_SW_URL")
        }
        if urls["APPCACHE_URL"] is None:
            raise ConfigError(
                "APPCACHE_URL is None; the manifest needs a URL like '/manifest.appcache'."
            )
        taken = [url for url in urls.values() if url is not None]
        if len(set(taken)) != len(taken):
            raise ConfigError(
                f"APPCACHE_URL, APPCACHE_PRECACHE_URL and APPCACHE_SW_URL must differ; got {urls}."
            )
        build_dir = config["APPCACHE_BUILD_DIR"]
        if build_dir is not None and not isinstance(build_dir, str | os.PathLike):
            raise ConfigError(f"APPCACHE_BUILD_DIR is {build_dir!r}; give a folder path or None.")
        return cls(
            url=urls["APPCACHE_URL"],
            template=_string(config, "APPCACHE_TEMPLATE"),
            url_base=parse_url_base(config["APPCACHE_URL_BASE"]),
            fallback=_fallback(config["APPCACHE_FALLBACK"]),
            network=_network(config["APPCACHE_NETWORK"]),
            finalize=_optional_bool(config, "APPCACHE_FINALIZE"),
            fetch_timeout=_timeout(config["APPCACHE_FETCH_TIMEOUT"]),
            precache_url=urls["APPCACHE_PRECACHE_URL"],
            sw_url=urls["APPCACHE_SW_URL"],
            sw_template=_string(config, "APPCACHE_SW_TEMPLATE"),
            sw_skip_waiting=bool(_optional_bool(config, "APPCACHE_SW_SKIP_WAITING")),
            build_dir=os.fspath(build_dir)
            if build_dir is not None
            else os.path.join(instance_path, "appcache"),
        )

    @property
    def reserved(self) -> dict[str, str]:
        """The extension's own URLs, which must never be cached, by config key."""
        own = {
            self.url: "APPCACHE_URL",
            self.precache_url: "APPCACHE_PRECACHE_URL",
            self.sw_url: "APPCACHE_SW_URL",
        }
        return {url: key for url, key in own.items() if url is not None}


def _own_url(config: Mapping[str, Any], key: str) -> str | None:
    value = config[key]
    if value is None:
        return None
    try:
        url = check_url(value, source=key)
    except InvalidURLError as error:
        raise ConfigError(str(error)) from None
    if "?" in url:
        raise ConfigError(f"{key} is {value!r}; give a path without a query string.")
    return url


def _string(config: Mapping[str, Any], key: str) -> str:
    value = config[key]
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key} is {value!r}; give a template name like {DEFAULTS[key]!r}.")
    return value


def _optional_bool(config: Mapping[str, Any], key: str) -> bool | None:
    value = config[key]
    if value is not None and not isinstance(value, bool):
        raise ConfigError(f"{key} is {value!r}; give True, False or None.")
    return value


def _timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"APPCACHE_FETCH_TIMEOUT is {value!r}; give a number of seconds above 0.")
    return float(value)


def _fallback(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"APPCACHE_FALLBACK is {value!r}; give a mapping of URL prefix to fallback "
            "URL, like {'/': '/offline'}."
        )
    try:
        return {
            check_prefix(prefix, source="APPCACHE_FALLBACK"): check_url(
                target, source="APPCACHE_FALLBACK"
            )
            for prefix, target in value.items()
        }
    except InvalidURLError as error:
        raise ConfigError(str(error)) from None


def _network(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError(
            f"APPCACHE_NETWORK is {value!r}; give a list of URL prefixes or ['*'] (a "
            "bare string is a common slip)."
        )
    try:
        return tuple(
            item if item == "*" else check_prefix(item, source="APPCACHE_NETWORK") for item in value
        )
    except InvalidURLError as error:
        raise ConfigError(str(error)) from None
