"""The registry: every URL the extension serves, declared once.

Each entry says what an artifact is called, which setting holds its URL (and
its template), its content type, its file in a deploy-time build, and
whether it is rendered from the bundle (the AppCache manifest, the precache
JSON, the worker) or is part of the bundle itself, precached with the app's
entries (the page client, the web app manifest, the icons). Routes, the
route-clash check, builds, serving and the README's list all read it:
adding an artifact is one entry here plus its renderer. No framework imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .icons import ICONS

if TYPE_CHECKING:
    from .settings import Settings

__all__ = [
    "BY_NAME",
    "OWN_FOLDER",
    "REGISTRY",
    "RENDERED",
    "ArtifactName",
    "Served",
    "Spec",
    "build_files",
    "is_on",
    "served_urls",
]

ArtifactName = Literal["manifest", "precache", "sw", "client", "web_manifest", "icons"]
OWN_FOLDER = "own"


@dataclass(frozen=True)
class Spec:
    """One artifact the extension serves."""

    name: ArtifactName
    key: str  # the setting that holds its URL (None there turns it off)
    default: str  # its default URL
    mimetype: str
    build_file: str  # its file in a build (for the icons, their folder)
    rendered: bool  # rendered from the bundle, rather than precached in it
    template_key: str | None = None  # the setting naming its template
    gone_when_killed: bool = False  # answers 410 Gone under the kill switch
    folder: bool = False  # a URL prefix with fixed names under it (the icons)

    @property
    def setting(self) -> str:
        """The :class:`~quart_appcache.settings.Settings` attribute of its key."""
        return self.key.removeprefix("APPCACHE_").lower()


REGISTRY: tuple[Spec, ...] = (
    Spec(
        "manifest",
        "APPCACHE_URL",
        "/manifest.appcache",
        "text/cache-manifest; charset=utf-8",
        "manifest.appcache",
        rendered=True,
        template_key="APPCACHE_TEMPLATE",
        gone_when_killed=True,
    ),
    Spec(
        "precache",
        "APPCACHE_PRECACHE_URL",
        "/precache-manifest.json",
        "application/json",
        "precache-manifest.json",
        rendered=True,
        gone_when_killed=True,
    ),
    Spec(
        "sw",
        "APPCACHE_SW_URL",
        "/sw.js",
        "text/javascript; charset=utf-8",
        "sw.js",
        rendered=True,
        template_key="APPCACHE_SW_TEMPLATE",
    ),
    Spec(
        "client",
        "APPCACHE_SW_CLIENT_URL",
        "/appcache.js",
        "text/javascript; charset=utf-8",
        f"{OWN_FOLDER}/appcache.js",
        rendered=False,
    ),
    Spec(
        "web_manifest",
        "APPCACHE_WEB_MANIFEST_URL",
        "/manifest.webmanifest",
        "application/manifest+json",
        f"{OWN_FOLDER}/manifest.webmanifest",
        rendered=False,
    ),
    Spec(
        "icons",
        "APPCACHE_ICONS_URL",
        "/appcache-icons/",
        "image/png",
        f"{OWN_FOLDER}/",
        rendered=False,
        folder=True,
    ),
)
BY_NAME = {spec.name: spec for spec in REGISTRY}
RENDERED: tuple[ArtifactName, ...] = tuple(spec.name for spec in REGISTRY if spec.rendered)


def build_files() -> frozenset[str]:
    """Every file name a build may hold (plain and gzip)."""
    names = [spec.build_file for spec in REGISTRY if not spec.folder]
    names += [BY_NAME["icons"].build_file + icon.name for icon in ICONS]
    return frozenset(name + suffix for name in names for suffix in ("", ".gz"))


@dataclass(frozen=True)
class Served:
    """A URL the extension serves, the artifact, and the setting (with its value) behind it."""

    url: str
    name: ArtifactName
    key: str
    value: str


def served_urls(settings: Settings, *, icons: bool) -> list[Served]:
    """Every URL the extension serves for an app with these settings.

    Args:
        settings: the app's settings.
        icons: whether icons are generated (``APPCACHE_ICON`` is set).
    """
    served: list[Served] = []
    for spec in REGISTRY:
        url = getattr(settings, spec.setting)
        if url is None or not is_on(spec.name, settings, icons=icons):
            continue
        if spec.folder:
            served += [Served(url + icon.name, spec.name, spec.key, url) for icon in ICONS]
        else:
            served.append(Served(url, spec.name, spec.key, url))
    return served


def is_on(name: ArtifactName, settings: Settings, *, icons: bool) -> bool:
    """Whether an app with these settings serves this artifact (its URL aside)."""
    if name == "client":
        return settings.sw_url is not None  # the page client registers the worker
    if name == "web_manifest":
        return settings.web_manifest is not None
    if name == "icons":
        return icons
    return True
