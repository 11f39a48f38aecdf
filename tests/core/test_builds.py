"""Deploy-time builds are whole or absent, checked file by file, and cover views."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from quart import Quart

from quart_appcache import Appcache, BuildError, build
from quart_appcache.build import RECORD

from ..conftest import AppFactory, write

GREETING = {"text": "<h1>home</h1>"}


def built_app(make_app: AppFactory, tmp_path: Path, **config: object) -> tuple[Quart, Appcache]:
    app, appcache = make_app(APPCACHE_BUILD_DIR=str(tmp_path / "build"), **config)

    @app.route("/page")
    async def page() -> str:
        return GREETING["text"]

    appcache.add_urls("/", "/page")
    appcache.add_folder("static")
    return app, appcache


def run_build(app: Quart) -> str:
    result = app.test_cli_runner().invoke(args=["appcache", "build"])
    assert result.exit_code == 0, result.output
    return result.output


def record(tmp_path: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((tmp_path / "build" / RECORD).read_text())
    return loaded


def leftovers(tmp_path: Path) -> list[str]:
    """What builds keep beside the target, other than the lock file."""
    return sorted(
        name
        for name in os.listdir(tmp_path)
        if name.startswith(".build.") and name != ".build.lock"
    )


async def served_version(make_app: AppFactory, tmp_path: Path, **config: object) -> str:
    app, appcache = built_app(make_app, tmp_path, **config)
    async with app.test_app():
        return (await appcache.hash())[0]


async def test_the_target_is_switched_in_one_step_and_one_build_back_is_kept(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app, _ = built_app(make_app, tmp_path)
    await asyncio.to_thread(run_build, app)
    target = tmp_path / "build"
    assert target.is_symlink()
    first = os.readlink(target)
    first_version = record(tmp_path)["version"]
    GREETING["text"] = "<h1>home, again</h1>"
    try:
        again, _ = built_app(make_app, tmp_path)
        await asyncio.to_thread(run_build, again)
        second = os.readlink(target)
        assert second != first
        assert record(tmp_path)["version"] != first_version
        # The build before is kept (a server may be reading it right now); no
        # partial folder is left.
        assert leftovers(tmp_path) == sorted([first, second])
        third, _ = built_app(make_app, tmp_path)
        await asyncio.to_thread(run_build, third)
        assert first not in leftovers(tmp_path)
        assert len(leftovers(tmp_path)) == 2
        assert await served_version(make_app, tmp_path) == record(tmp_path)["version"]
    finally:
        GREETING["text"] = "<h1>home</h1>"


async def test_a_write_that_fails_on_the_third_file_leaves_the_previous_build_whole(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = built_app(make_app, tmp_path)
    await asyncio.to_thread(run_build, app)
    before = record(tmp_path)
    real = build._write
    written: list[str] = []

    def failing(folder: str, file: str, data: bytes) -> None:
        written.append(file)
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        real(folder, file, data)

    monkeypatch.setattr(build, "_write", failing)
    write(Path(app.root_path) / "static" / "app.js", "release 2")
    again, _ = built_app(make_app, tmp_path)
    result = await asyncio.to_thread(again.test_cli_runner().invoke, args=["appcache", "build"])
    assert result.exit_code == 1
    assert "No space left on device" in result.output
    assert record(tmp_path) == before
    assert len(leftovers(tmp_path)) == 1  # the previous build alone: nothing partial
    monkeypatch.setattr(build, "_write", real)
    # A server starts on the previous build, whole (the app's files are
    # release 1's again: built_app writes them).
    assert await served_version(make_app, tmp_path) == before["version"]


KILLED_BUILD = """
import os, signal, sys
from quart import Quart
from quart_appcache import Appcache, build

root, out = sys.argv[1], sys.argv[2]
app = Quart("killed", root_path=root)
app.config["APPCACHE_BUILD_DIR"] = out


@app.route("/")
async def index():
    return "<h1>home</h1>"


appcache = Appcache(app)
appcache.add_urls("/")
appcache.add_folder("static")
real, count = build._write, []


def dying(folder, file, data):
    count.append(file)
    if len(count) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    real(folder, file, data)


build._write = dying
app.test_cli_runner().invoke(args=["appcache", "build"], catch_exceptions=False)
"""


async def test_a_build_killed_part_of_the_way_leaves_the_previous_build_served(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app, _ = built_app(make_app, tmp_path)
    await asyncio.to_thread(run_build, app)
    before = record(tmp_path)
    script = tmp_path / "killed.py"
    script.write_text(KILLED_BUILD)
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(script), app.root_path, str(tmp_path / "build")],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == -9, done.stderr
    assert record(tmp_path) == before
    partial = [name for name in leftovers(tmp_path) if name.endswith(".partial")]
    assert len(partial) == 1  # what the killed build wrote, never switched in
    assert await served_version(make_app, tmp_path) == before["version"]
    # The next build removes it.
    again, _ = built_app(make_app, tmp_path)
    await asyncio.to_thread(run_build, again)
    assert not [name for name in leftovers(tmp_path) if name.endswith(".partial")]


async def test_two_builds_at_once_one_wins_whole(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = built_app(make_app, tmp_path)
    await asyncio.to_thread(run_build, app)
    # The first build holds the target while it writes; a second one meanwhile fails
    # at once and changes nothing.
    real = build._write
    writing, release = threading.Event(), threading.Event()

    def slow(folder: str, file: str, data: bytes) -> None:
        if threading.current_thread().name == "first":
            writing.set()
            release.wait(10)
        real(folder, file, data)

    monkeypatch.setattr(build, "_write", slow)
    first_app, _ = built_app(make_app, tmp_path)
    second_app, _ = built_app(make_app, tmp_path)
    results: dict[str, object] = {}
    thread = threading.Thread(
        target=lambda: results.update(
            first=first_app.test_cli_runner().invoke(args=["appcache", "build"])
        ),
        name="first",
    )
    thread.start()
    assert await asyncio.to_thread(writing.wait, 10)
    second = await asyncio.to_thread(
        second_app.test_cli_runner().invoke, args=["appcache", "build"]
    )
    release.set()
    await asyncio.to_thread(thread.join, 30)
    assert second.exit_code == 1
    assert "Another build is writing into" in second.output
    assert results["first"].exit_code == 0  # type: ignore[attr-defined]
    assert await served_version(make_app, tmp_path) == record(tmp_path)["version"]


def resign(folder: Path, file: str) -> None:
    """Record the file's new digest, so only the other checks can catch it."""
    data = json.loads((folder / RECORD).read_text())
    data["files"][file] = hashlib.sha256((folder / file).read_bytes()).hexdigest()
    (folder / RECORD).write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("edit", r"'.*build/sw\.js' does not match the digest its record holds"),
        ("truncate", r"'.*build/manifest\.appcache' does not match the digest"),
        ("missing", r"Cannot read '.*precache-manifest\.json' from the build"),
        ("gz", r"'.*build/sw\.js\.gz' is not 'sw\.js' compressed"),
        ("escape", r"names the file '\.\./\.\./\.\./etc/passwd', which no build holds"),
        ("own-escape", r"has no file '\.\./secret'"),
    ],
)
async def test_a_tampered_build_is_refused_with_the_file_named(
    make_app: AppFactory, tmp_path: Path, tamper: str, message: str
) -> None:
    app, _ = built_app(make_app, tmp_path)
    await asyncio.to_thread(run_build, app)
    folder = tmp_path / "build"
    data = json.loads((folder / RECORD).read_text())
    if tamper == "edit":
        text = (folder / "sw.js").read_text()
        (folder / "sw.js").write_text(text.replace("'use strict';", "'use strict'; alert(1);"))
    elif tamper == "truncate":
        body = (folder / "manifest.appcache").read_bytes()
        (folder / "manifest.appcache").write_bytes(body[: len(body) // 2])
    elif tamper == "missing":
        (folder / "precache-manifest.json").unlink()
    elif tamper == "gz":
        (folder / "sw.js.gz").write_bytes(gzip.compress(b"// another worker", mtime=0))
        resign(folder, "sw.js.gz")
    elif tamper == "escape":
        data["artifacts"]["sw"] = "../../../etc/passwd"
        data["files"]["../../../etc/passwd"] = "0" * 64
        (folder / RECORD).write_text(json.dumps(data))
    else:
        data["own"][0]["file"] = "../secret"
        (folder / RECORD).write_text(json.dumps(data))
    broken, _ = built_app(make_app, tmp_path)
    with pytest.raises(BuildError, match=message):
        await broken.startup()


async def test_a_folder_of_an_earlier_release_is_replaced_and_foreign_files_are_refused(
    make_app: AppFactory, tmp_path: Path
) -> None:
    target = tmp_path / "build"
    write(target / RECORD, "{}")  # an earlier release's build, a real folder
    app, _ = built_app(make_app, tmp_path)
    await asyncio.to_thread(run_build, app)
    assert target.is_symlink()
    assert await served_version(make_app, tmp_path) == record(tmp_path)["version"]

    write(tmp_path / "other" / "notes.txt", "mine")
    result = await asyncio.to_thread(
        app.test_cli_runner().invoke, args=["appcache", "build", "-o", str(tmp_path / "other")]
    )
    assert result.exit_code == 1
    assert "holds files that are not a build" in result.output
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


async def test_a_view_changed_since_the_build_is_refused_unless_only_files_are_checked(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app, _ = built_app(make_app, tmp_path)
    await asyncio.to_thread(run_build, app)
    built = record(tmp_path)
    GREETING["text"] = "<h1>a new page</h1>"
    try:
        changed, _ = built_app(make_app, tmp_path)
        with pytest.raises(
            BuildError, match=r"stale: the view '/page' renders other bytes than the build"
        ):
            await changed.startup()
        # "files" checks file content only, as before.
        assert (
            await served_version(make_app, tmp_path, APPCACHE_BUILD_CHECK="files")
            == (built["version"])
        )
    finally:
        GREETING["text"] = "<h1>home</h1>"
