"""Folder walking: order, hidden files, odd file types, links, exclusions."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest

from quart_appcache import FileReadError
from quart_appcache.declarations import Declarations, FileEntry, ViewEntry, collect
from quart_appcache.walk import ListingCache

from ..conftest import write


def declare(root: Path, **folder: bool) -> Declarations:
    declarations = Declarations(root_path=str(root))
    declarations.add_folder(root, "/static", **folder)
    return declarations


def urls(declarations: Declarations) -> list[str]:
    return [entry.url for entry in collect(declarations)]


def test_walk_is_sorted_and_depth_first(tmp_path: Path) -> None:
    for name in ("b.js", "a/z.js", "a/b/c.js", "c.js", "A.js"):
        write(tmp_path / name, name)
    # A folder's files first, then its subfolders, each in name order.
    assert urls(declare(tmp_path)) == [
        "/static/A.js",
        "/static/b.js",
        "/static/c.js",
        "/static/a/z.js",
        "/static/a/b/c.js",
    ]


def test_file_entries_carry_url_and_path_without_opening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "a.js", "12345")

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("collection must not open files")

    monkeypatch.setattr("os.open", no_open)
    monkeypatch.setattr("builtins.open", no_open)
    [entry] = collect(declare(tmp_path))
    assert entry == FileEntry("/static/a.js", str(path))


def test_hidden_files_and_folders_are_left_out_by_default(tmp_path: Path) -> None:
    for name in (".DS_Store", ".gitkeep", ".git/config", "a/.hidden/x.js", "a/ok.js"):
        write(tmp_path / name, name)
    assert urls(declare(tmp_path)) == ["/static/a/ok.js"]
    assert urls(declare(tmp_path, include_hidden=True)) == [
        "/static/.DS_Store",
        "/static/.gitkeep",
        "/static/.git/config",
        "/static/a/ok.js",
        "/static/a/.hidden/x.js",
    ]


def test_fifo_and_socket_are_skipped_with_a_warning_and_never_opened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "ok.js", "ok")
    os.mkfifo(tmp_path / "pipe")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock"))
    try:
        with caplog.at_level(logging.WARNING, logger="quart_appcache"):
            assert urls(declare(tmp_path)) == ["/static/ok.js"]
    finally:
        server.close()
    assert str(tmp_path / "pipe") in caplog.text
    assert str(tmp_path / "sock") in caplog.text
    assert "not a regular file" in caplog.text


def test_symlink_loop_is_walked_once(tmp_path: Path) -> None:
    write(tmp_path / "a" / "x.js", "x")
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")
    os.symlink(tmp_path, tmp_path / "a" / "up")
    assert urls(declare(tmp_path)) == ["/static/a/x.js"]
    # The same with debug mode's listing cache, twice (the second from it).
    declarations, cache = declare(tmp_path), ListingCache()
    for _ in range(2):
        listed = collect(declarations, listings=cache)
        assert [entry.url for entry in listed] == ["/static/a/x.js"]


def test_a_folder_reached_through_a_link_first_is_listed_once(tmp_path: Path) -> None:
    # latest -> v2: the folder is listed under the name that sorts first.
    write(tmp_path / "v2" / "app.js", "v2")
    os.symlink("v2", tmp_path / "latest")
    for cache in (None, ListingCache()):
        listed = collect(declare(tmp_path), listings=cache)
        assert [entry.url for entry in listed] == ["/static/latest/app.js"]


def test_a_folder_deleted_during_the_walk_is_left_out(tmp_path: Path) -> None:
    write(tmp_path / "a" / "a.js", "a")
    write(tmp_path / "b" / "b.js", "b")
    write(tmp_path / "c" / "c.js", "c")

    def delete_b(files: list[FileEntry]) -> None:
        if any(file.url == "/static/a/a.js" for file in files):
            os.unlink(tmp_path / "b" / "b.js")
            os.rmdir(tmp_path / "b")

    for cache in (None, ListingCache()):
        listed = collect(declare(tmp_path), listings=cache, on_found=delete_b)
        assert [entry.url for entry in listed] == ["/static/a/a.js", "/static/c/c.js"]
        write(tmp_path / "b" / "b.js", "b")


def test_folders_are_not_stat_ed_outside_debug_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stat per folder was a sixth of the walk of a large tree; only debug
    # mode's listing cache needs one (a folder's mtime).
    for index in range(10):
        write(tmp_path / f"d{index}" / "sub" / "f.js", "f")
    stat_ed: list[str] = []
    real_stat = os.stat

    def counting(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        stat_ed.append(os.fspath(path))
        return real_stat(path, *args, **kwargs)

    declarations = declare(tmp_path)
    monkeypatch.setattr(os, "stat", counting)
    assert len(urls(declarations)) == 10
    assert stat_ed == []
    collect(declarations, listings=ListingCache())
    assert len(stat_ed) == 21  # the folder and its 20 subfolders


def test_links_out_of_the_folder_are_skipped_unless_asked_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outside = tmp_path / "outside"
    write(outside / "lib" / "l.js", "lib")
    write(outside / "one.js", "one")
    root = tmp_path / "static"
    write(root / "own.js", "own")
    os.symlink(outside / "lib", root / "lib")
    os.symlink(outside / "one.js", root / "one.js")
    with caplog.at_level(logging.WARNING, logger="quart_appcache"):
        assert urls(declare(root)) == ["/static/own.js"]
    for link in ("lib", "one.js"):
        assert f"skips {str(root / link)!r}: it is a symbolic link to" in caplog.text
    assert "follow_symlinks=True" in caplog.text
    assert urls(declare(root, follow_symlinks=True)) == [
        "/static/one.js",
        "/static/own.js",
        "/static/lib/l.js",
    ]


def test_links_inside_the_folder_are_followed(tmp_path: Path) -> None:
    write(tmp_path / ".src" / "css" / "app.css", "css")  # hidden, so not listed itself
    write(tmp_path / "app.js", "js")
    os.symlink(tmp_path / ".src" / "css", tmp_path / "styles")  # a folder, absolute
    os.symlink("app.js", tmp_path / "main.js")  # a file, relative
    assert urls(declare(tmp_path)) == [
        "/static/app.js",
        "/static/main.js",
        "/static/styles/app.css",
    ]


def test_a_folder_1000_levels_deep_is_walked(tmp_path: Path) -> None:
    depth = 1000
    root = tmp_path / "deep"
    folders = [root]
    for _ in range(depth):
        folders.append(folders[-1] / "d")
    for folder in folders:  # os.makedirs recurses too
        os.mkdir(folder)
    (folders[-1] / "bottom.js").write_text("bottom")
    try:
        assert urls(declare(root)) == ["/static" + "/d" * depth + "/bottom.js"]
    finally:
        # pytest's own clean-up of old temp folders recurses and would crash
        # on this tree: take it apart from the bottom up, without recursion.
        os.unlink(folders[-1] / "bottom.js")
        for folder in reversed(folders):
            os.rmdir(folder)


def test_broken_symlink_is_a_clear_error(tmp_path: Path) -> None:
    os.symlink(tmp_path / "gone.js", tmp_path / "link.js")
    with pytest.raises(FileReadError, match=r"link\.js'.*broken symbolic link.*gone\.js"):
        collect(declare(tmp_path))


def test_excluded_broken_symlink_is_ignored(tmp_path: Path) -> None:
    os.makedirs(tmp_path / "skip")
    os.symlink(tmp_path / "gone.js", tmp_path / "skip" / "link.js")
    declarations = declare(tmp_path)
    declarations.add_excluded(["/static/skip"])
    assert urls(declarations) == []


def test_unreadable_folder_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root, where chmod cannot lock a folder; fail the listing instead.
    locked = tmp_path / "locked"
    write(locked / "x.js", "x")
    real_scandir = os.scandir

    def scandir(path: str):  # type: ignore[no-untyped-def]
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr("quart_appcache.walk.os.scandir", scandir)
    with pytest.raises(FileReadError, match=r"Cannot list '.*locked'.*Permission denied"):
        collect(declare(tmp_path))


def test_views_and_fallback_targets_come_in_order(tmp_path: Path) -> None:
    write(tmp_path / "a.js", "a")
    declarations = Declarations(root_path=str(tmp_path), fallback_targets=["/offline", "/"])
    declarations.add_urls(["/", "/b"])
    declarations.add_folder(tmp_path, "/", False)
    entries = collect(declarations)
    assert [entry.url for entry in entries] == ["/", "/b", "/a.js", "/offline"]
    assert isinstance(entries[-1], ViewEntry)


def test_exclusion_of_a_fallback_target_is_refused_where_it_is_made(tmp_path: Path) -> None:
    declarations = Declarations(root_path=str(tmp_path), fallback_targets=["/offline"])
    with pytest.raises(
        ValueError, match=r"add_excluded_urls\('/off'\).*'/offline'.*APPCACHE_FALLBACK"
    ):
        declarations.add_excluded(["/static", "/off"])
    assert declarations.excluded == []  # nothing half-added
