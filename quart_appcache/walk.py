"""Walking a declared folder into file entries (the walk's input and output types too).

Names are sorted, so every host lists the same files in the same order: a
folder's files first, then its subfolders, depth first. The walk is
iterative, so any depth works. Symbolic links whose target lies inside the
declared folder are followed; a link that leads out of it (``static/up ->
..``) is skipped with a warning naming it, so the app's own source never
lands in a public manifest, unless the folder was added with
``follow_symlinks=True``. Each directory is walked once (no symlink loop can
hang it), dot files are left out unless asked for, and anything that is not a
regular file (a FIFO, a socket, a device) is skipped with a warning, never
opened.

In debug mode a :class:`ListingCache` keeps each folder's listing with the
folder's own stamp: a folder whose mtime and ctime have not moved (adding,
removing or renaming a file moves them) is not listed again, just stat-ed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import hashing
from .errors import FileReadError
from .urls import NAME_NEEDS_ENCODING, encode_segment

__all__ = ["FileEntry", "Folder", "ListingCache", "walk_folder"]


@dataclass(frozen=True, slots=True)
class Folder:
    """A folder declared with ``add_folder``: absolute path, base URL and options."""

    path: str
    base: str
    include_hidden: bool = False
    follow_symlinks: bool = False


# Hashable and never changed, but not frozen: a frozen dataclass's __init__
# costs more, and one is made per file of the tree.
@dataclass(slots=True, unsafe_hash=True)
class FileEntry:
    """A URL whose bytes are a file on disk."""

    url: str
    path: str


_plain = NAME_NEEDS_ENCODING.search


@dataclass(frozen=True, slots=True)
class _Listing:
    stamp: tuple[int, int] | None  # (taken only for the cache)
    listed_at_ns: int
    files: list[FileEntry]
    # (path, URL, and the name, or None for a symbolic link)
    folders: list[tuple[str, str, str | None]]

    def fresh(self, stamp: tuple[int, int]) -> bool:
        # As for files (hashing.RACY_NS): a listing taken this close to the
        # folder's last change may have missed a change in the same tick.
        return stamp == self.stamp and max(stamp) < self.listed_at_ns - hashing.RACY_NS


@dataclass
class ListingCache:
    """Folder listings from earlier walks, for one set of declarations."""

    listings: dict[tuple[Folder, tuple[str, ...]], dict[str, _Listing]] = field(
        default_factory=dict
    )

    def for_folder(self, folder: Folder, excluded: tuple[str, ...]) -> dict[str, _Listing]:
        """The listings of one folder walked under one set of exclusions."""
        key = (folder, excluded)
        if key not in self.listings:  # new exclusions: forget listings made under the old
            self.listings = {k: v for k, v in self.listings.items() if k[0] != folder}
            self.listings[key] = {}
        return self.listings[key]


@dataclass
class _Walk:
    folder: Folder
    excluded: tuple[str, ...]
    warn: Callable[[str], None]
    listings: dict[str, _Listing] | None
    # The folder's real path, with a separator, when links must stay inside it.
    inside: str | None = None
    # The real paths of the folders listed so far.
    seen: set[str] = field(default_factory=set)
    found: list[FileEntry] = field(default_factory=list)


def walk_folder(
    folder: Folder,
    excluded: tuple[str, ...],
    warn: Callable[[str], None],
    cache: ListingCache | None = None,
    on_found: Callable[[list[FileEntry]], None] | None = None,
) -> list[FileEntry]:
    """List the regular files under ``folder`` as entries, in a fixed order.

    Args:
        folder: the declared folder.
        excluded: encoded URL prefixes to leave out (whole subfolders are
            skipped without listing them).
        warn: called with a message for each non-regular file skipped.
        cache: debug-mode listing cache, or ``None``.
        on_found: called with the files of each folder listing, as found.

    Raises:
        FileReadError: a folder could not be listed, or holds a broken link.
    """
    listings = cache.for_folder(folder, excluded) if cache is not None else None
    root = os.path.realpath(folder.path)
    inside = None if folder.follow_symlinks else os.path.join(root, "")
    walk = _Walk(folder, excluded, warn, listings, inside)
    # Depth first, a folder's files before its subfolders, without recursion.
    pending = [(folder.path, folder.base.rstrip("/") + "/", root)]
    while pending:
        directory, prefix, real = pending.pop()
        # Known by its real path, not its stat: a folder reached through a
        # link has its link resolved, any other is its parent's real path
        # and its name, so only links cost system calls here.
        if real in walk.seen:
            continue  # a symbolic link loop, or a folder reached twice
        walk.seen.add(real)
        listing = _listing(directory, prefix, walk)
        if listing is not None:
            walk.found.extend(listing.files)
            if on_found is not None:
                on_found(listing.files)
            parent = os.path.join(real, "")
            pending.extend(
                (path, url, parent + name if name is not None else os.path.realpath(path))
                for path, url, name in reversed(listing.folders)
            )
    return walk.found


def _listing(directory: str, prefix: str, walk: _Walk) -> _Listing | None:
    if walk.listings is None:
        return _list(directory, prefix, None, walk)
    try:
        st = os.stat(directory)
    except FileNotFoundError:
        return None  # deleted while we walked
    stamp = (st.st_mtime_ns, st.st_ctime_ns)
    listing = walk.listings.get(directory)
    if listing is None or not listing.fresh(stamp):
        listing = _list(directory, prefix, stamp, walk)
        if listing is not None:
            walk.listings[directory] = listing
    return listing


def _list(
    directory: str, prefix: str, stamp: tuple[int, int] | None, walk: _Walk
) -> _Listing | None:
    listed_at = time.time_ns()
    try:
        with os.scandir(directory) as it:
            # Sorting plain names compares faster than a key on DirEntry.
            by_name = {child.name: child for child in it}
    except FileNotFoundError:
        return None  # deleted while we walked
    except OSError as error:
        raise FileReadError(
            f"Cannot list {directory!r} under add_folder({walk.folder.path!r}): "
            f"{error.strerror or error}. Fix its permissions or exclude it."
        ) from error
    files: list[FileEntry] = []
    folders: list[tuple[str, str, str | None]] = []
    # Local names: this loop runs once per file of the tree.
    add_file, excluded, inside = files.append, walk.excluded, walk.inside
    hidden = walk.folder.include_hidden
    names = sorted(by_name)
    # Most folders hold no name that needs encoding: one search over all of
    # them ('/' is never in a name, and never matches) spares one per name.
    joined = "/".join(names)
    plain = joined.isascii() and _plain(joined) is None
    for name in names:
        if name[0] == "." and not hidden:
            continue
        child = by_name[name]
        if plain or (name.isascii() and _plain(name) is None):
            url = prefix + name
        else:
            url = prefix + encode_segment(name, path=child.path)
        if excluded and url.startswith(excluded):
            continue
        # A regular file, not a link (from the listing, no stat): the
        # common case, with nothing more to check.
        if child.is_file(follow_symlinks=False):
            add_file(FileEntry(url, child.path))
            continue
        if inside is not None and child.is_symlink() and _leaves(child.path, inside):
            walk.warn(
                f"quart_appcache skips {child.path!r}: it is a symbolic link to "
                f"{os.readlink(child.path)!r}, outside {walk.folder.path!r}, and following it "
                "could publish files never meant to be served. Move the target into the "
                "folder, or add the folder with add_folder(..., follow_symlinks=True)."
            )
            continue
        # DirEntry answers is_file()/is_dir() from the listing itself; only
        # symbolic links cost a stat here.
        if child.is_file():
            add_file(FileEntry(url, child.path))
        elif child.is_dir():
            url += "/"
            if not (excluded and url.startswith(excluded)):
                folders.append((child.path, url, None if child.is_symlink() else name))
        elif child.is_symlink() and not os.path.exists(child.path):
            raise FileReadError(
                f"Cannot cache {child.path!r}: it is a broken symbolic link to "
                f"{os.readlink(child.path)!r}. Fix or remove the link, or "
                f"exclude {url!r} with add_excluded_urls()."
            )
        elif os.path.lexists(child.path):
            walk.warn(
                f"quart_appcache skips {child.path!r}: it is not a regular file "
                "(a FIFO, socket or device), and reading it could hang."
            )
    return _Listing(stamp, listed_at, files, folders)


def _leaves(link: str, inside: str) -> bool:
    """Whether the symbolic link ``link`` resolves to somewhere outside ``inside``."""
    target = os.path.realpath(link)
    return not os.path.join(target, "").startswith(inside)
