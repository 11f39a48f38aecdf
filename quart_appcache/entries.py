"""The data the stages pass along: entries of the bundle and declared folders."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Entry", "FileEntry", "Folder", "ViewEntry"]


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A URL whose bytes are a file on disk."""

    url: str
    path: str


@dataclass(frozen=True, slots=True)
class ViewEntry:
    """A URL whose bytes come from rendering it through the app."""

    url: str


Entry = FileEntry | ViewEntry


@dataclass(frozen=True, slots=True)
class Folder:
    """A folder declared with ``add_folder``: absolute path, base URL and options."""

    path: str
    base: str
    include_hidden: bool = False
    follow_symlinks: bool = False
