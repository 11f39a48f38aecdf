"""The data the stages pass along: entries of the bundle and declared folders."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Entry", "FileEntry", "Folder", "OwnEntry", "ViewEntry"]


# Hashable and never changed, but not frozen: a frozen dataclass's __init__
# costs three times as much, and one is made per file of the tree.
@dataclass(slots=True, unsafe_hash=True)
class FileEntry:
    """A URL whose bytes are a file on disk."""

    url: str
    path: str


@dataclass(frozen=True, slots=True)
class ViewEntry:
    """A URL whose bytes come from rendering it through the app."""

    url: str


@dataclass(frozen=True, slots=True)
class OwnEntry:
    """A URL the extension serves itself (the page client), precached with the rest."""

    url: str
    body: bytes = field(repr=False)
    mimetype: str = "application/octet-stream"


Entry = FileEntry | ViewEntry | OwnEntry


@dataclass(frozen=True, slots=True)
class Folder:
    """A folder declared with ``add_folder``: absolute path, base URL and options."""

    path: str
    base: str
    include_hidden: bool = False
    follow_symlinks: bool = False
