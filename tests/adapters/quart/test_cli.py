"""`quart appcache build` and `quart appcache show`."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from quart import Quart

from quart_appcache.build import FILES, RECORD
from quart_appcache.cli import Bar, human_size

from ...conftest import AppFactory, write
from ...e2e.servers import BROKEN_APP, copy_example, run_quart


def cli_app(make_app: AppFactory, **config: object) -> Quart:
    app, appcache = make_app(**config)
    appcache.add_urls("/", "/offline")
    appcache.add_folder("static")
    return app


def test_build_writes_every_artifact_and_a_record(make_app: AppFactory, tmp_path: Path) -> None:
    app = cli_app(make_app, APPCACHE_FALLBACK={"/": "/offline"})
    out = tmp_path / "out"
    result = app.test_cli_runner().invoke(args=["appcache", "build", "--output", str(out)])
    assert result.exit_code == 0, result.output
    # Every artifact, and its gzip form where that is smaller (*.gz).
    listed = {name.removesuffix(".gz") for name in os.listdir(out)}
    assert listed == {*FILES.values(), RECORD, "own"}
    assert {name.removesuffix(".gz") for name in os.listdir(out / "own")} == {"appcache.js"}
    record = json.loads((out / RECORD).read_text())
    assert [(e["url"], e["kind"]) for e in record["entries"]] == [
        ("/", "view"),
        ("/offline", "view"),
        ("/static/app.js", "file"),
        ("/static/css/app.css", "file"),
        ("/appcache.js", "own"),  # the page client is precached with the rest
    ]
    assert (out / "manifest.appcache").read_text().startswith("CACHE MANIFEST\n")
    assert record["version"] in (out / "sw.js").read_text()
    assert json.loads((out / "precache-manifest.json").read_text()) == [
        {"url": e["url"], "revision": e["revision"]} for e in record["entries"]
    ]
    assert "Built 4 entries" in result.output
    assert record["version"][:16] in result.output


def test_build_defaults_to_the_build_dir(make_app: AppFactory, tmp_path: Path) -> None:
    app = cli_app(make_app, APPCACHE_BUILD_DIR=str(tmp_path / "builds"))
    result = app.test_cli_runner().invoke(args=["appcache", "build"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "builds" / RECORD).exists()


def test_build_elsewhere_says_where_the_servers_read_builds(
    make_app: AppFactory, tmp_path: Path
) -> None:
    builds = tmp_path / "builds"
    app = cli_app(make_app, APPCACHE_BUILD_DIR=str(builds))
    result = app.test_cli_runner().invoke(args=["appcache", "build", "-o", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    assert (
        f"Warning: the servers read builds from {str(builds)!r} (APPCACHE_BUILD_DIR), not "
        f"{str(tmp_path / 'x')!r}: set APPCACHE_BUILD_DIR to {str(tmp_path / 'x')!r}"
    ) in result.output
    same = app.test_cli_runner().invoke(args=["appcache", "build", "-o", str(builds)])
    assert same.exit_code == 0, same.output
    assert "Warning" not in same.output


def test_python_m_quart_appcache_names_both_command_lines() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "quart_appcache"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "quart --app MODULE:APP appcache build" in done.stdout
    assert "python -m quart_appcache.starlette build MODULE:APP" in done.stdout
    wrong = subprocess.run(
        [sys.executable, "-m", "quart_appcache", "bulid"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert wrong.returncode == 2
    assert "Unknown command 'bulid'" in wrong.stderr


def test_second_build_of_unchanged_content_is_byte_identical(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app = cli_app(make_app)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["appcache", "build", "-o", str(tmp_path / "a")]).exit_code == 0
    # A second process computes from scratch: model it with a fresh app.
    again = cli_app(make_app)
    assert (
        again.test_cli_runner()
        .invoke(args=["appcache", "build", "-o", str(tmp_path / "b")])
        .exit_code
        == 0
    )
    for name in FILES.values():
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_show_lists_every_url_size_and_revision(make_app: AppFactory) -> None:
    app = cli_app(make_app)
    result = app.test_cli_runner().invoke(args=["appcache", "show"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["URL", "SIZE", "FROM", "REVISION"]
    assert [line.split()[0] for line in lines[1:5]] == [
        "/",
        "/offline",
        "/static/app.js",
        "/static/css/app.css",
    ]
    js = next(line for line in lines if line.startswith("/static/app.js"))
    size = (Path(app.root_path) / "static" / "app.js").stat().st_size
    assert js.split()[1:3] == [str(size), "B"]
    assert lines[-1].startswith("4 entries, ")
    assert "version " in lines[-1]


def test_cli_runs_the_apps_startup_hooks(make_app: AppFactory) -> None:
    app = cli_app(make_app)
    state: dict[str, str] = {}

    @app.before_serving
    async def open_db() -> None:
        state["db"] = "open"

    @app.route("/needs-db")
    async def needs_db() -> str:
        return state["db"]

    from quart_appcache import get_appcache

    get_appcache(app).add_urls("/needs-db")
    result = app.test_cli_runner().invoke(args=["appcache", "show"])
    assert result.exit_code == 0, result.output
    assert "/needs-db" in result.output


def test_errors_exit_non_zero_with_a_clean_message(make_app: AppFactory, tmp_path: Path) -> None:
    app = cli_app(make_app)
    from quart_appcache import get_appcache

    get_appcache(app).add_urls("/missing")
    for args in (["appcache", "build", "-o", str(tmp_path / "x")], ["appcache", "show"]):
        result = app.test_cli_runner().invoke(args=args)
        assert result.exit_code == 1
        assert "Error: Cannot cache '/missing': the app answered 404" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_unwritable_output_is_a_clean_error(make_app: AppFactory, tmp_path: Path) -> None:
    app = cli_app(make_app)
    blocker = write(tmp_path / "file", "not a folder")
    result = app.test_cli_runner().invoke(args=["appcache", "build", "-o", str(blocker / "sub")])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert str(blocker / "sub") in result.output


def test_progress_bar_draws_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Terminal()
    bar = Bar(tty, "hashing")
    bar.start(4)
    bar.advance(2)
    assert "2/4" in tty.getvalue()
    bar.advance(2)
    bar.finish()
    assert "4/4" in tty.getvalue().rsplit("\r", 1)[-1]
    assert "hashing" in tty.getvalue()
    pipe = io.StringIO()
    quiet = Bar(pipe, "hashing")
    quiet.start(4)
    quiet.advance(4)
    quiet.finish()
    assert pipe.getvalue() == ""


def test_human_size() -> None:
    assert human_size(21) == "21 B"
    assert human_size(1234) == "1.2 kB"
    assert human_size(5_600_000) == "5.6 MB"


def test_real_quart_subprocess_builds_the_example(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "example")
    out = tmp_path / "build"
    done = run_quart(root, "--app", "app:app", "appcache", "build", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "Built 5 entries" in done.stdout
    assert (out / RECORD).exists()
    write(root / "broken.py", BROKEN_APP)
    failing = run_quart(root, "--app", "broken:app", "appcache", "show")
    assert failing.returncode == 1
    assert "Error: Cannot cache '/nope': the app answered 404" in failing.stderr
    assert "Traceback" not in failing.stderr


def test_a_plain_exception_at_startup_is_one_line_and_the_shutdown_runs(
    make_app: AppFactory,
) -> None:
    app = cli_app(make_app)
    events: list[str] = []

    @app.while_serving
    async def pool():  # type: ignore[no-untyped-def]
        events.append("pool open")
        yield
        events.append("pool closed")

    @app.while_serving
    async def broken():  # type: ignore[no-untyped-def]
        raise Exception("the database is down")
        yield

    @app.while_serving
    async def never():  # type: ignore[no-untyped-def]
        events.append("never started")
        yield

    @app.after_serving
    async def closed() -> None:
        events.append("after serving")

    result = app.test_cli_runner().invoke(args=["appcache", "show"])
    assert result.exit_code == 1
    assert "Error: Exception: the database is down (run again with --traceback" in result.output
    assert "Traceback" not in result.output
    assert events == ["pool open", "pool closed", "after serving"]


def test_a_view_raising_a_plain_exception_is_one_line(make_app: AppFactory) -> None:
    app = cli_app(make_app)
    events: list[str] = []

    @app.route("/boom")
    async def boom() -> str:
        raise Exception("no rows")

    @app.after_serving
    async def closed() -> None:
        events.append("after serving")

    from quart_appcache import get_appcache

    get_appcache(app).add_urls("/boom")
    result = app.test_cli_runner().invoke(args=["appcache", "build", "-o", "x"])
    assert result.exit_code == 1
    assert "Error: Cannot cache '/boom': the app answered 500 after the view raised Exception" in (
        result.output
    )
    assert "Traceback" not in result.output
    assert events == ["after serving"]
    traced = app.test_cli_runner().invoke(args=["appcache", "show", "--traceback"])
    assert traced.exit_code == 1
    assert isinstance(traced.exception, Exception)
    assert "/boom" in str(traced.exception)
