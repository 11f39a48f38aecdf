"""The settings: one table of every setting, and the checked values of one app.

Each setting is declared once in :data:`FIELDS`: its ``APPCACHE_*`` key, its
keyword (the key in lower case without the prefix, ``fallback=`` for
``APPCACHE_FALLBACK``), its default, its check and a one-line description.
The Quart adapter reads ``app.config`` through the table; the Starlette
adapter's keyword arguments are the same table (a test holds both adapters
and the configuration page against it).

Settings are resolved once per app at ``init_app`` and kept with that app,
never on the extension object, so two apps initialised from one
``Appcache()`` cannot see each other's config. Errors name the setting the
way the user wrote it. No framework imports.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .answer_store import check_store_url
from .artifacts import BY_NAME, REGISTRY
from .errors import ConfigError, InvalidURLError
from .queue import QueueRule, check_queue
from .runtime import Rule, check_rules
from .urls import check_origin_prefix, check_prefix, check_url
from .webapp import check_members

__all__ = ["DEFAULTS", "FIELDS", "Field", "KeyNames", "Settings", "parse_url_base"]

BUILD_CHECKS = ("content", "files", "size")
SW_UPDATES = ("pinned", "waiting", "immediate")
VERIFY_MODES = ("files", "all", "none")
# Settings still accepted for one release, ignored, with a DeprecationWarning.
DEPRECATED = {
    "APPCACHE_HASH_HELPER": "quart_appcache no longer starts a helper process to hash files.",
}


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


# -- checks: (value, the setting as the user wrote it) -> the checked value ------


def _url(value: object, label: str) -> str | None:
    if value is None:
        return None
    try:
        url = check_url(value, source=label)
    except InvalidURLError as error:
        raise ConfigError(str(error)) from None
    if "?" in url:
        raise ConfigError(f"{label} is {value!r}; give a path without a query string.")
    return url


def _template(value: object, label: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{label} is {value!r}; give the name of a template.")
    return value


def _choice(choices: tuple[str, ...]) -> Callable[[object, str], str]:
    def check(value: object, label: str) -> str:
        if value not in choices:
            *first, last = [repr(choice) for choice in choices]
            shown = f"{', '.join(first)} or {last}" if first else last
            raise ConfigError(f"{label} is {value!r}; give {shown}.")
        return str(value)

    return check


def _optional_bool(value: object, label: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ConfigError(f"{label} is {value!r}; give True, False or None.")
    return value


def _bool(value: object, label: str) -> bool:
    return bool(_optional_bool(value, label))


def _seconds(value: object, label: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{label} is {value!r}; give a number of seconds above 0.")
    return float(value)


def _interval(value: object, label: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(
            f"{label} is {value!r}; give a number of seconds above 0, or None to check "
            "only when a page is shown again."
        )
    return float(value)


def _byte_limit(value: object, label: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{label} is {value!r}; give a number of bytes above 0, or None.")
    return value


def _path(value: object, label: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        raise ConfigError(f"{label} is {value!r}; give a path, or None.")
    return os.fspath(value)


def _icon(value: object, label: str) -> str | None:
    if value is not None and (not isinstance(value, str | os.PathLike) or not os.fspath(value)):
        raise ConfigError(
            f"{label} is {value!r}; give the path of a square PNG of at least 512x512 "
            "pixels, or None."
        )
    return _path(value, label)


def _icons_url(value: object, label: str) -> str:
    try:
        url = check_url(value, source=label)
    except InvalidURLError as error:
        raise ConfigError(str(error)) from None
    if "?" in url or not url.endswith("/") or url == "/":
        raise ConfigError(
            f"{label} is {value!r}; give a folder URL of its own, ending in '/', like "
            "'/appcache-icons/'."
        )
    return url


def _patterns(value: object, label: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError(
            f"{label} is {value!r}; give a list of query parameter names, '*' and '?' "
            "allowed, like ['utm_*', 'fbclid']."
        )
    for item in value:
        if (
            not isinstance(item, str)
            or not item
            or any(c in item for c in "&=#")
            or any(c.isspace() for c in item)
        ):
            raise ConfigError(
                f"{label} holds {item!r}; each entry is a query parameter name, '*' and '?' "
                "allowed, without '&', '=', '#' or spaces."
            )
    return tuple(value)


def _fallback(value: object, label: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{label} is {value!r}; give a mapping of URL prefix to fallback URL, like "
            "{'/': '/offline'}."
        )
    try:
        return {
            check_prefix(prefix, source=label): check_url(target, source=label)
            for prefix, target in value.items()
        }
    except InvalidURLError as error:
        raise ConfigError(str(error)) from None


def _fallback_exclude(
    value: object, label: str
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Path prefixes, and patterns as ``(JavaScript source, flags)``."""
    if isinstance(value, str | re.Pattern) or not isinstance(value, list | tuple):
        raise ConfigError(
            f"{label} is {value!r}; give a list of path prefixes and re.compile(...) "
            "patterns, like ['/api/', re.compile(r'^/files/.*\\.pdf$')]."
        )
    prefixes: list[str] = []
    patterns: list[tuple[str, str]] = []
    for index, item in enumerate(value):
        where = f"{label}[{index}]"
        if isinstance(item, re.Pattern):
            patterns.append(_js_pattern(item, where))
            continue
        try:
            prefixes.append(check_prefix(item, source=where))
        except InvalidURLError as error:
            raise ConfigError(
                f"{error} An entry is a path prefix starting with '/', or a re.compile() pattern."
            ) from None
    return tuple(prefixes), tuple(patterns)


def _js_pattern(pattern: re.Pattern[str], where: str) -> tuple[str, str]:
    # The worker runs the pattern as a JavaScript RegExp: only what means the
    # same there is taken.
    if not isinstance(pattern.pattern, str):
        raise ConfigError(f"{where} is {pattern!r}; give a str pattern, not bytes.")
    flags = pattern.flags & ~(re.UNICODE | re.IGNORECASE)
    if flags:
        raise ConfigError(
            f"{where} is {pattern!r}; only re.IGNORECASE works in the worker. Write the "
            "pattern without other flags."
        )
    if "(?P=" in pattern.pattern or re.search(r"\\[AZ]", pattern.pattern):
        raise ConfigError(
            f"{where} is {pattern!r}; (?P=name), \\A and \\Z do not exist in the worker's "
            "JavaScript regular expressions. Use \\k<name>, ^ and $."
        )
    source = pattern.pattern.replace("(?P<", "(?<")
    return source, "i" if pattern.flags & re.IGNORECASE else ""


# A dot-separated run of 8 or more hex digits before the extension: app.3f9a1c2b.js.
HASHED_NAMES = r"\.[0-9a-fA-F]{8,}\.[A-Za-z0-9]+$"


def _hashed_names(value: object, label: str) -> tuple[str, str] | None:
    """The pattern file names are matched with, as ``(JavaScript source, flags)``."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = re.compile(value)
        except re.error as error:
            raise ConfigError(
                f"{label} is {value!r}, not a regular expression ({error}); give one that "
                f"matches hashed file names, like {HASHED_NAMES!r}, or None."
            ) from None
    if not isinstance(value, re.Pattern):
        raise ConfigError(
            f"{label} is {value!r}; give a regular expression (a string or re.compile(...)) "
            "matched against file names, or None."
        )
    return _js_pattern(value, label)


def _skip_waiting(config: MutableMapping[str, Any], name: Callable[[str], str]) -> None:
    """``APPCACHE_SW_SKIP_WAITING``, deprecated: its value as ``APPCACHE_SW_UPDATE``."""
    key, update = "APPCACHE_SW_SKIP_WAITING", "APPCACHE_SW_UPDATE"
    if key not in config:
        return
    value = config.pop(key)
    if not isinstance(value, bool):
        raise ConfigError(
            f"{name(key)} is {value!r}; it is deprecated: set {name(update)} to 'immediate', "
            "'waiting' or 'pinned' instead."
        )
    meant = "immediate" if value else "waiting"
    if update in config and config[update] != meant:
        raise ConfigError(
            f"{name(key)} = {value!r} and {name(update)} = {config[update]!r} disagree; "
            f"remove {name(key)} (deprecated) and keep {name(update)}."
        )
    warnings.warn(
        f"{name(key)} is deprecated: set {name(update)} = {meant!r}, which does the same. "
        "The next release refuses it.",
        DeprecationWarning,
        stacklevel=5,
    )
    config[update] = meant


# The prompt's texts, by name (APPCACHE_SW_PROMPT), in English unless given.
PROMPT_TEXTS = {
    "update": "A new version is available.",
    "reload": "Reload",
    "dismiss": "Later",
    "offline_ready": "Ready to work offline.",
}


def _prompt(value: object, label: str) -> dict[str, str] | None:
    if value is None or value is False:
        return None
    if value is True:
        return dict(PROMPT_TEXTS)
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{label} is {value!r}; give True, False, or a mapping of the prompt's texts "
            f"like {{'update': 'Neue Version verfügbar.', 'reload': 'Neu laden'}}."
        )
    unknown = [key for key in value if key not in PROMPT_TEXTS]
    if unknown:
        raise ConfigError(
            f"{label} has the unknown text {unknown[0]!r}; the texts are "
            f"{', '.join(map(repr, PROMPT_TEXTS))}."
        )
    for key, text in value.items():
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{label}[{key!r}] is {text!r}; give the text as a non-empty string.")
    return {**PROMPT_TEXTS, **{key: str(text) for key, text in value.items()}}


def _network(value: object, label: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError(
            f"{label} is {value!r}; give a list of URL prefixes or ['*'] (a bare string "
            "is a common slip)."
        )
    try:
        return tuple(_network_entry(item, label) for item in value)
    except InvalidURLError as error:
        raise ConfigError(str(error)) from None


def _network_entry(item: object, label: str) -> str:
    # '*', a path prefix of this app, or an absolute URL prefix of any origin.
    if item == "*":
        return "*"
    if isinstance(item, str) and "://" in item:
        return check_origin_prefix(item, source=label)
    return check_prefix(item, source=label)


# -- the table ---------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One setting: its key, default, check and description."""

    key: str
    default: Any
    check: Callable[[Any, str], Any]
    description: str

    @property
    def keyword(self) -> str:
        """The Starlette keyword, and the :class:`Settings` attribute."""
        return self.key.removeprefix("APPCACHE_").lower()


def _artifact_url(name: str, description: str, check: Callable[[Any, str], Any] = _url) -> Field:
    spec = BY_NAME[name]  # type: ignore[index]
    return Field(spec.key, spec.default, check, description)


FIELDS: tuple[Field, ...] = (
    _artifact_url("manifest", "where the AppCache manifest is served"),
    Field(
        "APPCACHE_TEMPLATE",
        "manifest.appcache",
        _template,
        "the manifest template; the app's own template of that name wins over the packaged one",
    ),
    Field(
        "APPCACHE_URL_BASE",
        "http://localhost",
        parse_url_base,
        "scheme and host of the in-process requests that render views",
    ),
    Field(
        "APPCACHE_FALLBACK",
        {},
        _fallback,
        "URL prefix -> fallback page for page loads offline (fallback pages are tracked)",
    ),
    Field(
        "APPCACHE_FALLBACK_EXCLUDE",
        [],
        _fallback_exclude,
        "page loads that never get the fallback page: path prefixes and re.compile() patterns",
    ),
    Field(
        "APPCACHE_NETWORK",
        ["*"],
        _network,
        "'*', or the path prefixes and other origins' URL prefixes that may use the network",
    ),
    Field(
        "APPCACHE_FINALIZE",
        None,
        _optional_bool,
        "finalize at startup; None means unless in debug mode, read at startup",
    ),
    Field("APPCACHE_FETCH_TIMEOUT", 30.0, _seconds, "seconds a single view may take to render"),
    _artifact_url("precache", "the Workbox-format precache manifest; None turns it off"),
    _artifact_url("sw", "the generated service worker; None turns it off"),
    Field(
        "APPCACHE_SW_TEMPLATE",
        "sw.js",
        _template,
        "the service-worker template; the app's own template of that name wins",
    ),
    Field(
        "APPCACHE_SW_UPDATE",
        "pinned",
        _choice(SW_UPDATES),
        "how a new version takes over: pinned (each open page keeps the version it "
        "loaded), waiting (until no page uses the old one), immediate",
    ),
    _artifact_url("client", "the page client that registers the worker; None turns it off"),
    Field(
        "APPCACHE_SW_PROMPT",
        False,
        _prompt,
        "a ready-made update prompt: True, or a mapping of its texts (update, reload, "
        "dismiss, offline_ready)",
    ),
    Field(
        "APPCACHE_SW_UPDATE_INTERVAL",
        3600,
        _interval,
        "seconds between the page client's update checks; None: only when a page is shown",
    ),
    Field(
        "APPCACHE_SW_VERIFY",
        "files",
        _choice(VERIFY_MODES),
        "which downloads the worker checks against their revision: files, all, none",
    ),
    Field(
        "APPCACHE_SW_UNREGISTER",
        False,
        _bool,
        "the kill switch: the worker removes itself and its caches, the manifests answer 410",
    ),
    Field(
        "APPCACHE_SW_IGNORED_PARAMS",
        ["utm_*", "fbclid", "gclid"],
        _patterns,
        "query parameters (globs) a precached URL may carry and still be answered from it",
    ),
    Field(
        "APPCACHE_HASHED_NAMES",
        HASHED_NAMES,
        _hashed_names,
        "file names that carry a content hash (a regular expression): downloaded "
        "without the revision parameter; None: none",
    ),
    Field(
        "APPCACHE_RUNTIME",
        [],
        check_rules,
        "runtime caching rules for pages and data outside the bundle",
    ),
    Field(
        "APPCACHE_QUEUE",
        [],
        check_queue,
        "offline write rules: matching writes the worker cannot send are queued and "
        "replayed, and the server applies each once",
    ),
    Field(
        "APPCACHE_QUEUE_STORE",
        None,
        check_store_url,
        "where the server keeps the answers to queued writes: 'sqlite:///path', "
        "'redis://host:port/db' or 'memory'; None: SQLite in the instance or base folder",
    ),
    Field(
        "APPCACHE_QUEUE_MAX_ANSWER",
        1024 * 1024,
        _byte_limit,
        "the largest answer body kept for a replay, in bytes; a larger one is replayed "
        "without its body; None: no limit",
    ),
    Field(
        "APPCACHE_WEB_MANIFEST",
        None,
        check_members,
        "the web app manifest's members (name required); None: no manifest",
    ),
    _artifact_url("web_manifest", "where the web app manifest is served"),
    Field(
        "APPCACHE_ICON",
        None,
        _icon,
        "a square PNG of at least 512x512 to generate the icons from",
    ),
    _artifact_url("icons", "where the generated icons are served", _icons_url),
    Field(
        "APPCACHE_BUILD_DIR",
        None,
        _path,
        "where a deploy-time build is written and read at startup",
    ),
    Field(
        "APPCACHE_MAX_ENTRY_BYTES",
        16 * 1024 * 1024,
        _byte_limit,
        "the largest tracked file or view, in bytes; a larger one fails; None: no limit",
    ),
    Field(
        "APPCACHE_BUILD_CHECK",
        "content",
        _choice(BUILD_CHECKS),
        "how a build is checked at startup: content (files and views), files, size",
    ),
)
DEFAULTS: dict[str, Any] = {item.key: item.default for item in FIELDS}
# The URLs the extension serves at exact paths, which must all differ.
_SERVED_URL_KEYS = tuple(spec.key for spec in REGISTRY if not spec.folder)


@dataclass(frozen=True)
class Settings:
    """The checked settings of one app (attributes named after the keywords)."""

    url: str
    template: str
    url_base: tuple[str, str]
    fallback: dict[str, str]
    fallback_exclude: tuple[tuple[str, ...], tuple[tuple[str, str], ...]]
    network: tuple[str, ...]
    finalize: bool | None
    fetch_timeout: float
    precache_url: str | None
    sw_url: str | None
    sw_template: str
    sw_update: str
    sw_client_url: str | None
    sw_prompt: dict[str, str] | None
    sw_update_interval: float | None
    sw_verify: str
    sw_unregister: bool
    sw_ignored_params: tuple[str, ...]
    hashed_names: tuple[str, str] | None
    runtime: tuple[Rule, ...]
    web_manifest: dict[str, Any] | None
    web_manifest_url: str
    icon: str | None
    icons_url: str
    build_dir: str | None
    max_entry_bytes: int | None = 16 * 1024 * 1024
    build_check: str = "content"
    queue: tuple[QueueRule, ...] = ()
    queue_store: str = "sqlite:///appcache-queue.sqlite3"
    queue_max_answer: int | None = 1024 * 1024
    names: KeyNames = field(default=KeyNames(), compare=False)

    @classmethod
    def from_config(
        cls,
        config: MutableMapping[str, Any],
        *,
        default_build_dir: str | None,
        default_queue_store: str = "sqlite:///appcache-queue.sqlite3",
        names: KeyNames | None = None,
    ) -> Settings:
        """Fill in defaults with ``setdefault`` and check every key.

        Args:
            config: the ``APPCACHE_*`` keys (missing ones are filled in).
            default_build_dir: the build folder when ``APPCACHE_BUILD_DIR``
                is ``None`` (``None``: no build is read at startup).
            default_queue_store: the answer store when ``APPCACHE_QUEUE_STORE``
                is ``None`` (a relative SQLite path is under the app's folder).
            names: how errors name the keys (default: the keys themselves).

        Raises:
            ConfigError: a key holds a value of the wrong kind; the message
                names the key.
        """
        names = names or KeyNames()
        name = names.name
        for key, why in DEPRECATED.items():
            if key in config:
                warnings.warn(
                    f"{name(key)} is deprecated and ignored: {why} Remove the setting; the "
                    "next release refuses it.",
                    DeprecationWarning,
                    stacklevel=4,
                )
        _skip_waiting(config, name)
        values: dict[str, Any] = {}
        for item in FIELDS:
            default = item.default
            value = config.setdefault(
                item.key, default.copy() if isinstance(default, dict | list) else default
            )
            values[item.keyword] = item.check(value, name(item.key))
        for key in ("APPCACHE_URL", "APPCACHE_WEB_MANIFEST_URL"):
            if values[key.removeprefix("APPCACHE_").lower()] is None:
                raise ConfigError(f"{name(key)} is None; give a URL like {DEFAULTS[key]!r}.")
        urls = {key: values[key.removeprefix("APPCACHE_").lower()] for key in _SERVED_URL_KEYS}
        taken = [url for url in urls.values() if url is not None]
        if len(set(taken)) != len(taken):
            shown = {name(key): url for key, url in urls.items()}
            raise ConfigError(
                f"{', '.join(shown)} must differ; got {shown}. Give each its own URL."
            )
        if values["build_dir"] is None:
            values["build_dir"] = default_build_dir
        if values["queue_store"] is None:
            values["queue_store"] = default_queue_store
        return cls(**values, names=names)

    @property
    def reserved(self) -> dict[str, str]:
        """The extension's own URLs, which must never be cached, by the setting's name.

        (The icons' URL is a prefix: every URL under it.)
        """
        return {
            getattr(self, spec.setting): self.names.name(spec.key)
            for spec in REGISTRY
            if getattr(self, spec.setting) is not None
        }
