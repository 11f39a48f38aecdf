"""``python -m quart_appcache.starlette build|show APP``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from quart_appcache.build import FILES, RECORD
from quart_appcache.starlette.cli import main

from ...conftest import write
from ...e2e.servers import copy_example

APP_MODULE = """
from contextlib import asynccontextmanager
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from quart_appcache.starlette import Appcache

EVENTS = []

@asynccontextmanager
async def lifespan(app):
    EVENTS.append("startup")
    yield {"db": "rows"}
    EVENTS.append("shutdown")

async def index(request):
    return PlainTextResponse(f"home {request.state.db}")

async def boom(request):
    raise RuntimeError("the database is down")

def create_app(tracked=("/",), build_dir="build"):
    app = Starlette(
        routes=[Route("/", index), Route("/boom", boom),
                Mount("/static", StaticFiles(directory="static"), name="static")],
        lifespan=lifespan,
    )
    appcache = Appcache(app, build_dir=build_dir)
    appcache.add_urls(*tracked)
    appcache.add_static("static")
    return app

app = create_app()
broken = create_app(("/", "/boom"))
missing = create_app(("/", "/nope"))
no_build_dir = create_app(build_dir=None)
not_an_app = 42
"""


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"cli_app_{abs(hash(tmp_path)) % 10**8}"
    write(tmp_path / f"{name}.py", APP_MODULE)
    write(tmp_path / "static" / "app.js", "console.log(1);\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_build_runs_the_lifespan_and_writes_the_build(module: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["build", f"{module}:app"])
    assert result.exit_code == 0, result.output
    assert "Built 2 entries" in result.output
    record = json.loads((tmp_path / "build" / RECORD).read_text())
    assert [entry["url"] for entry in record["entries"]] == ["/", "/static/app.js", "/appcache.js"]
    listed = {name.removesuffix(".gz") for name in os.listdir(tmp_path / "build")}
    assert listed == {*FILES.values(), RECORD, "own"}
    assert sys.modules[module].EVENTS == ["startup", "shutdown"]


def test_build_with_a_factory_and_output(module: str, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere"
    result = CliRunner().invoke(
        main, ["build", f"{module}:create_app", "--factory", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert (out / RECORD).exists()
    refused = CliRunner().invoke(main, ["build", f"{module}:create_app"])
    assert refused.exit_code == 1
    assert "not a Starlette or FastAPI app (is it a factory? add --factory)" in refused.output


def test_without_a_build_folder_build_fails_and_elsewhere_it_warns(
    module: str, tmp_path: Path
) -> None:
    refused = CliRunner().invoke(main, ["build", f"{module}:no_build_dir"])
    assert refused.exit_code == 1
    assert "Error: No build folder: pass --output DIR, and set Appcache(build_dir=...)" in (
        refused.output
    )
    out = tmp_path / "out"
    built = CliRunner().invoke(main, ["build", f"{module}:no_build_dir", "-o", str(out)])
    assert built.exit_code == 0, built.output
    assert (
        "Warning: the servers read no build (Appcache(build_dir=...) is not set): set it to"
        in built.output
    )


def test_show_lists_urls_sizes_and_revisions(module: str) -> None:
    result = CliRunner().invoke(main, ["show", f"{module}:app"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["URL", "SIZE", "FROM", "REVISION"]
    assert [line.split()[0] for line in lines[1:3]] == ["/", "/static/app.js"]
    assert lines[-1].startswith("2 entries, ")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing", "Error: Cannot cache '/nope': the app answered 404"),
        (
            "broken",
            "Error: Cannot cache '/boom': the view raised RuntimeError: the database is down",
        ),
    ],
)
def test_errors_are_one_line_and_the_lifespan_shuts_down(
    module: str, target: str, message: str
) -> None:
    for command in ("build", "show"):
        sys.modules.pop(module, None)
        result = CliRunner().invoke(main, [command, f"{module}:{target}"])
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert "Traceback" not in result.output
        assert sys.modules[module].EVENTS == ["startup", "shutdown"]


def test_traceback_on_request(module: str) -> None:
    result = CliRunner().invoke(main, ["show", f"{module}:broken", "--traceback"])
    assert result.exit_code == 1
    assert result.exception is not None
    assert "/boom" in str(result.exception)


@pytest.mark.parametrize(
    ("target", "message", "status"),
    [
        # A command line click cannot take is a usage error (2); an app that
        # cannot be had is a failure like any other (1).
        ("nocolon", "not of the form 'module:attribute'", 2),
        ("no_such_module:app", "Error: Cannot import 'no_such_module'", 1),
        ("{module}:nothing", "Error: 'starlette_cli_app' has no attribute 'nothing'", 1),
        ("{module}:not_an_app", "is int, not a Starlette or FastAPI app", 1),
    ],
)
def test_bad_app_targets(module: str, target: str, message: str, status: int) -> None:
    result = CliRunner().invoke(main, ["show", target.format(module=module)])
    assert result.exit_code == status
    assert message.replace("starlette_cli_app", module) in result.output


def test_real_subprocess_builds_the_fastapi_example(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "example")
    out = tmp_path / "build"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "quart_appcache.starlette",
            "build",
            "fastapi_app:app",
            "-o",
            str(out),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Built 5 entries" in done.stdout
    assert (out / RECORD).exists()
    usage = subprocess.run(
        [sys.executable, "-m", "quart_appcache.starlette", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Usage: python -m quart_appcache.starlette" in usage.stdout
