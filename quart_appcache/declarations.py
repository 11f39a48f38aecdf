"""Declarations to entries: what belongs in the offline bundle, in order.

An app declares URLs (rendered in-process), folders (read from disk), its
page routes (``add_routes()``, found when the bundle is computed) and
exclusion prefixes. :func:`collect` turns those declarations into an ordered
list of entries, each a URL plus where its bytes come from: a file
(:class:`~quart_appcache.walk.FileEntry`, from the walk), a view, or one of
the extension's own files. This stage only lists folders; it never opens
files and has no framework imports.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .errors import ConfigError, FolderNotFoundError, InvalidURLError, NotAFolderError
from .route_map import RoutesDeclaration
from .urls import check_prefix, check_url
from .walk import FileEntry, Folder, ListingCache, walk_folder

__all__ = ["Declarations", "Entry", "ExtensionEntry", "FileEntry", "Folder", "ViewEntry", "collect"]

logger = logging.getLogger("quart_appcache")


@dataclass(frozen=True, slots=True)
class ViewEntry:
    """A URL whose bytes come from rendering it through the app."""

    url: str


@dataclass(frozen=True, slots=True)
class ExtensionEntry:
    """A URL the extension serves itself (the page client...), precached with the rest."""

    url: str
    body: bytes = field(repr=False)
    mimetype: str = "application/octet-stream"


Entry = FileEntry | ViewEntry | ExtensionEntry


@dataclass
class Declarations:
    """What one app declared, in declaration order.

    Args:
        root_path: the directory relative folders resolve against.
        reserved: URLs that must never be cached (the manifest's own URL, the
            service worker), mapped to the config key that names them; one
            ending in ``/`` reserves every URL under it.
        fallback_targets: the FALLBACK section's fallback URLs; they are
            tracked too, since a fallback that is not cached cannot work
            offline.
        fallback_key: how the user wrote the FALLBACK setting, for errors.
        extension_files: returns what the extension serves itself and precaches with the
            bundle (page client, web app manifest, icons); listed last, never
            excluded. Called when the bundle is collected, in a worker thread.
    """

    root_path: str
    reserved: dict[str, str] = field(default_factory=dict)
    fallback_targets: list[str] = field(default_factory=list)
    fallback_key: str = "APPCACHE_FALLBACK"
    extension_files: Callable[[], list[ExtensionEntry]] = list
    items: list[str | Folder | RoutesDeclaration] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    # Counts declarations, so what was derived from them knows when it is stale.
    generation: int = 0

    def add_urls(self, urls: Iterable[object]) -> None:
        """Check and add URLs to render in-process (see :func:`check_url`)."""
        checked = [self._check_not_reserved(check_url(url)) for url in urls]
        self.items.extend(checked)
        self.generation += 1

    def add_folder(
        self,
        folder: str | os.PathLike[str],
        base: str,
        include_hidden: bool = False,
        follow_symlinks: bool = False,
    ) -> None:
        """Check and add a folder whose files are served under ``base``.

        Raises:
            FolderNotFoundError: ``folder`` does not exist.
            NotAFolderError: ``folder`` is not a directory.
            InvalidURLError: ``base`` is not a valid URL path.
        """
        path = os.path.abspath(os.path.join(self.root_path, os.fspath(folder)))
        if not os.path.exists(path):
            raise FolderNotFoundError(
                f"add_folder() cannot add {os.fspath(folder)!r}: {path!r} does not exist. "
                "Relative folders resolve against the app's root_path "
                f"({self.root_path!r}); pass an absolute path or create the folder."
            )
        if not os.path.isdir(path):
            raise NotAFolderError(
                f"add_folder() cannot add {path!r}: it is a file, not a folder. "
                "Track a single file by its URL with add_urls()."
            )
        checked_base = check_url(base, source="add_folder(base=...)")
        if "?" in checked_base:
            raise InvalidURLError(
                f"add_folder() base {base!r} has a query string; give a path like '/static'."
            )
        self.items.append(
            Folder(path, checked_base.rstrip("/") or "/", include_hidden, follow_symlinks)
        )
        self.generation += 1

    def add_routes(self, exclude: Iterable[object]) -> None:
        """Add the app's page routes here, as found when the bundle is computed.

        Raises:
            InvalidURLError: an ``exclude`` prefix is not a path on this app.
        """
        if isinstance(exclude, str):
            raise InvalidURLError(
                f"add_routes(exclude={exclude!r}) takes a list of path prefixes, like "
                f"exclude=[{exclude!r}]."
            )
        checked = tuple(check_prefix(p, source="add_routes(exclude=...)") for p in exclude)
        self.items.append(RoutesDeclaration(checked))
        self.generation += 1

    @property
    def routes(self) -> list[RoutesDeclaration]:
        """The ``add_routes()`` calls, in order."""
        return [item for item in self.items if isinstance(item, RoutesDeclaration)]

    def discovered(self) -> set[str]:
        """The URLs ``add_routes()`` found when the bundle was last computed."""
        return {url for item in self.routes for url in item.urls}

    def add_excluded(self, prefixes: Iterable[object]) -> None:
        """Check and add exclusion prefixes; they apply to every entry.

        Raises:
            InvalidURLError: a prefix is not a path on this app.
            ConfigError: a prefix would exclude a FALLBACK target.
        """
        checked = [check_prefix(p, source="add_excluded_urls()") for p in prefixes]
        for prefix in checked:
            for target in self.fallback_targets:
                if target.startswith(prefix):
                    raise ConfigError(
                        f"add_excluded_urls({prefix!r}) would exclude {target!r}, a fallback "
                        f"in {self.fallback_key}. A fallback that is not cached cannot work "
                        "offline; narrow the exclusion or change the fallback."
                    )
        self.excluded.extend(checked)
        self.generation += 1

    def view_urls(self) -> list[str]:
        """The URLs that will be rendered, unless a folder lists them first."""
        urls = [url for url in self._view_items() if not self.is_excluded(url)]
        return list(dict.fromkeys([*urls, *self.fallback_targets]))

    def _view_items(self) -> Iterable[str]:
        for item in self.items:
            if isinstance(item, str):
                yield item
            elif isinstance(item, RoutesDeclaration):
                yield from item.urls

    def is_excluded(self, url: str) -> bool:
        """Whether an encoded URL starts with any exclusion prefix."""
        return url.startswith(tuple(self.excluded))

    def reserved_by(self, url: str) -> str | None:
        """The config key of the extension's own URL that ``url`` is, if it is one."""
        path = url.partition("?")[0]
        return self.reserved.get(path) or next(
            (
                key
                for own, key in self.reserved.items()
                if own.endswith("/") and path.startswith(own)
            ),
            None,
        )

    def _check_not_reserved(self, url: str) -> str:
        key = self.reserved_by(url)
        if key is not None:
            raise InvalidURLError(
                f"add_urls() cannot track {url!r}: it is the extension's own URL ({key}). "
                "Caching it would pin clients to one version forever; remove it."
            )
        return url


def collect(
    declarations: Declarations,
    *,
    on_skip: Callable[[str], None] | None = None,
    listings: ListingCache | None = None,
    with_extension_files: bool = True,
    on_found: Callable[[list[FileEntry]], None] | None = None,
) -> list[Entry]:
    """List the entries of the bundle, in declaration order, duplicates collapsed.

    Folders are walked in sorted name order (a folder's files, then its
    subfolders), so that every host lists the same files in the same order.
    Exclusions apply to every entry.

    Args:
        declarations: what the app declared; its FALLBACK targets come
            last unless already listed.
        on_skip: called with a message for each file skipped (FIFOs, sockets,
            devices); defaults to a logged warning.
        listings: debug-mode cache of folder listings, so unchanged folders
            are only stat-ed, not listed again.
        with_extension_files: also list what the extension serves itself (left out when
            only the app's tracked URLs are wanted: it may generate icons).
        on_found: called with the files of each folder listing, as found.

    Returns:
        The ordered entries.

    Raises:
        FileReadError: a folder could not be listed, or holds a broken
            symbolic link.
    """
    warn = on_skip or logger.warning
    entries: dict[str, Entry] = {}
    for item in declarations.items:
        if isinstance(item, str):
            if not declarations.is_excluded(item):
                entries.setdefault(item, ViewEntry(item))
        elif isinstance(item, RoutesDeclaration):
            for url in item.urls:
                if not declarations.is_excluded(url):
                    entries.setdefault(url, ViewEntry(url))
        else:
            excluded = tuple(declarations.excluded)
            for entry in walk_folder(item, excluded, warn, listings, on_found):
                entries.setdefault(entry.url, entry)
    for url in declarations.fallback_targets:
        entries.setdefault(url, ViewEntry(url))
    for own in declarations.extension_files() if with_extension_files else []:
        entries.setdefault(own.url, own)
    return list(entries.values())
