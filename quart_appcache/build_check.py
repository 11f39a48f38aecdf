"""Is a deploy-time build still right for the app? The startup check, and the fingerprint.

A build is served as it is, so one made under other settings (FALLBACK,
NETWORK, the worker's options, the URLs), other templates, or from other
content would serve artifacts the app no longer describes. The build records
a fingerprint of what in the settings and templates shapes the artifacts;
at startup the app's fingerprint now is compared with it, and then, by
``APPCACHE_BUILD_CHECK``, the URLs and the content: ``"content"`` computes
the bundle (files hashed, views rendered) and compares every revision,
``"files"`` hashes the files only, ``"size"`` compares sizes. Anything that
differs refuses the build, naming the setting or the URL. No framework imports.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING

import jinja2

from . import __version__
from .build import Build
from .bundle import Revision
from .declarations import Entry, FileEntry
from .errors import BuildError
from .hashing import Digest, Hashed
from .render import template_source
from .route_map import Discovery, assign
from .settings import Settings

if TYPE_CHECKING:
    from .site import Site

__all__ = ["check_build", "fingerprint"]


async def check_build(site: Site, folder: str, build: Build) -> None:
    """Refuse a build that is not right for the app now.

    Raises:
        BuildError: naming the setting that differs, or the URL added, gone
            or changed.
    """
    settings = site.settings
    command = settings.names.build_command
    current = await asyncio.to_thread(site.fingerprint)
    check_fingerprint(folder, build, current, settings.names.name, command)
    # The extension's own files are covered by the fingerprint (settings, icon
    # source, package version): only the app's entries are compared here.
    if settings.build_check == "content":
        # Views rendered too: a page changed since the build would otherwise
        # be served under its old revision, and installed clients would
        # never download it again.
        now = await site.bundle.compute(site.host.render, final=True, with_extension_files=False)
        check_revisions(folder, build, now.app_entries, command)
        check_routes(folder, build, now.discovery, command)
        return
    # Without renders the route map cannot be read again: add_routes() takes
    # the pages the build found.
    assign(site.bundle.declarations.routes, build.snapshot.discovery.pages)
    entries = await site.bundle.collect(with_extension_files=False)
    by_size = settings.build_check == "size"
    await asyncio.to_thread(partial(check_fresh, folder, build, entries, command, sizes=by_size))
    if not by_size:
        files = [entry for entry in entries if isinstance(entry, FileEntry)]
        results = await site.bundle.hash_paths([entry.path for entry in files])
        check_contents(folder, build, files, results, command)


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def fingerprint(
    settings: Settings, env: jinja2.Environment | None, icon_token: str | None
) -> dict[str, str]:
    """The fingerprint: one string per config key (and the package version).

    Args:
        settings: the app's settings.
        env: the app's templates.
        icon_token: the token of the icon source's content, if any.

    Reads the templates' sources: run it off the event loop.
    """
    templates = {
        "APPCACHE_TEMPLATE": settings.template,
        "APPCACHE_SW_TEMPLATE": settings.sw_template,
    }
    record = {
        "quart_appcache": __version__,
        "APPCACHE_URL": _json(settings.url),
        "APPCACHE_PRECACHE_URL": _json(settings.precache_url),
        "APPCACHE_SW_URL": _json(settings.sw_url),
        "APPCACHE_FALLBACK": _json(settings.fallback),
        "APPCACHE_FALLBACK_EXCLUDE": _json(settings.fallback_exclude),
        "APPCACHE_NETWORK": _json(list(settings.network)),
        "APPCACHE_SW_UPDATE": _json(settings.sw_update),
        "APPCACHE_SW_CLIENT_URL": _json(settings.sw_client_url),
        "APPCACHE_SW_VERIFY": _json(settings.sw_verify),
        "APPCACHE_SW_UNREGISTER": _json(settings.sw_unregister),
        "APPCACHE_SW_IGNORED_PARAMS": _json(list(settings.sw_ignored_params)),
        "APPCACHE_HASHED_NAMES": _json(settings.hashed_names),
        "APPCACHE_RUNTIME": _json([rule.as_json("") for rule in settings.runtime]),
        "APPCACHE_WEB_MANIFEST": _json(settings.web_manifest),
        "APPCACHE_WEB_MANIFEST_URL": _json(settings.web_manifest_url),
        "APPCACHE_ICON": _json(icon_token),  # the source's content, not its path
        "APPCACHE_ICONS_URL": _json(settings.icons_url),
    }
    for key, name in templates.items():
        source = template_source(env, name, settings.names.name(key))
        digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
        record[key] = f"{name} (source {digest})"
    return record


def differing(built: dict[str, str], current: dict[str, str]) -> str | None:
    """The first key whose recorded value differs, or ``None`` when all match."""
    for key in sorted(set(built) | set(current)):
        if built.get(key) != current.get(key):
            return key
    return None


def _check_urls(folder: str, build: Build, declared: Sequence[str], command: str) -> None:
    built = [item.url for item in build.snapshot.app_entries]
    built_set, declared_set = set(built), set(declared)
    problems = []
    added = [url for url in declared if url not in built_set]
    removed = [url for url in built if url not in declared_set]
    if added:
        problems.append(f"new since the build: {_some(added)}")
    if removed:
        problems.append(f"gone since the build: {_some(removed)}")
    if not problems and built != list(declared):
        problems.append("the URLs are in another order")
    if problems:
        raise _stale(folder, "; ".join(problems), command)


def check_fresh(
    folder: str, build: Build, entries: Sequence[Entry], command: str, *, sizes: bool = True
) -> None:
    """Refuse a build whose URLs (or file sizes) differ from the app's entries now.

    Stats every file entry (with ``sizes``), so run it off the event loop.

    Raises:
        BuildError: naming what was added, removed or resized.
    """
    _check_urls(folder, build, [entry.url for entry in entries], command)
    if not sizes:
        return
    built = {item.url: item.size for item in build.snapshot.app_entries}
    resized = [
        entry.url
        for entry in entries
        if isinstance(entry, FileEntry) and built[entry.url] != _size(entry.path)
    ]
    if resized:
        raise _stale(folder, f"changed size since the build: {_some(resized)}", command)


def check_revisions(folder: str, build: Build, revisions: Sequence[Revision], command: str) -> None:
    """Refuse a build whose URLs or revisions (files and rendered views) differ from now.

    Raises:
        BuildError: naming what was added or removed, or the first URL
            whose content changed.
    """
    _check_urls(folder, build, [item.url for item in revisions], command)
    built = {item.url: item.revision for item in build.snapshot.app_entries}
    for item in revisions:
        if built[item.url] != item.revision:
            what = (
                f"the view {item.url!r} renders other bytes than"
                if item.kind == "view"
                else f"the content of {item.url!r} changed since"
            )
            raise _stale(folder, f"{what} the build", command)


def check_routes(folder: str, build: Build, now: Discovery, command: str) -> None:
    """Refuse a build whose route map differs from the app's now (the worker's non-pages).

    Raises:
        BuildError: naming a non-page added or gone.
    """
    built = build.snapshot.discovery.non_pages
    for name in ("prefixes", "patterns"):
        before, after = getattr(built, name), getattr(now.non_pages, name)
        added = [item for item in after if item not in before]
        gone = [item for item in before if item not in after]
        if added or gone:
            problem = f"new since the build: {_some(added)}" if added else f"gone: {_some(gone)}"
            raise _stale(
                folder, f"the routes that are not pages changed ({name} {problem})", command
            )


def check_contents(
    folder: str,
    build: Build,
    files: Sequence[FileEntry],
    results: Sequence[Digest | Hashed | OSError],
    command: str,
) -> None:
    """Refuse a build whose files' contents changed since it was made.

    Args:
        files: the app's file entries now.
        results: their digests (from :func:`~quart_appcache.hashing.hash_files`).

    Raises:
        BuildError: naming the first file whose content differs, or that
            could not be read.
    """
    built = {item.url: item.revision for item in build.snapshot.revisions}
    for entry, result in zip(files, results, strict=True):
        if isinstance(result, OSError):
            raise _stale(folder, f"{entry.url!r} cannot be read ({result})", command)
        revision = result[0] if isinstance(result, tuple) else result.revision
        if built.get(entry.url) != revision:
            raise _stale(folder, f"the content of {entry.url!r} changed since the build", command)


def _stale(folder: str, problem: str, command: str) -> BuildError:
    return BuildError(
        f"The build in {folder!r} is stale: {problem}. "
        f"Run `{command}` again before starting the servers "
        "(or remove the folder to compute at startup)."
    )


def check_fingerprint(
    folder: str,
    build: Build,
    current: Mapping[str, str],
    name: Callable[[str], str],
    command: str,
) -> None:
    """Refuse a build made under other settings or templates.

    Raises:
        BuildError: naming the first setting that differs, and both values.
    """
    key = differing(build.fingerprint, dict(current))
    if key is None:
        return
    setting = name(key) if key.startswith("APPCACHE_") else "the quart_appcache version"
    raise BuildError(
        f"The build in {folder!r} is stale: it was made with {setting} = "
        f"{build.fingerprint.get(key)}, but the app now has {current.get(key)}. "
        f"Run `{command}` again before starting the servers."
    )


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _some(urls: list[str]) -> str:
    shown = ", ".join(repr(url) for url in urls[:5])
    return shown + (f" and {len(urls) - 5} more" if len(urls) > 5 else "")
