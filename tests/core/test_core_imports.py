"""The core imports no web framework; each adapter works without the other's framework."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Refuses to import the named top-level packages, as if they were not installed.
BLOCKER = """
import sys

class Blocker:
    def __init__(self, names):
        self.names = set(names)

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ModuleNotFoundError("No module named " + repr(name) + " (blocked)", name=name)
        return None

sys.meta_path.insert(0, Blocker(BLOCKED))
"""

# Every module of the package but the two adapters: a module added later is
# checked too.
CORE = sorted(
    path.stem
    for path in (REPO / "quart_appcache").glob("*.py")
    if path.stem not in ("__init__", "__main__")
)
ADAPTERS = ("quart", "starlette")


def run(blocked: list[str], code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = f"BLOCKED = {blocked!r}\n" + BLOCKER + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_adapters_are_the_only_subpackages() -> None:
    packages = sorted(path.parent.name for path in (REPO / "quart_appcache").glob("*/__init__.py"))
    assert packages == sorted(ADAPTERS)
    assert "extension" not in CORE  # the Quart adapter lives in quart_appcache/quart/


def test_the_core_imports_neither_framework(tmp_path: Path) -> None:
    done = run(
        ["quart", "starlette", "fastapi", "werkzeug", "flask"],
        f"""
        import importlib, sys
        for name in {CORE!r}:
            importlib.import_module("quart_appcache." + name)
        import quart_appcache
        from quart_appcache import ConfigError
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in
                        ("quart", "starlette", "fastapi", "werkzeug", "flask"))
        print("leaked:", leaked)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "leaked: []" in done.stdout


def test_the_starlette_adapter_works_without_quart(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "a.js").write_text("a")
    done = run(
        ["quart", "werkzeug", "flask"],
        """
        import asyncio
        from starlette.applications import Starlette
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route
        from quart_appcache.starlette import Appcache, ConfigError

        async def home(request):
            return PlainTextResponse("home")

        app = Starlette(routes=[Route("/", home)])
        appcache = Appcache(app)
        appcache.add_urls("/")
        appcache.add_folder("static")
        print(asyncio.run(appcache.entries()))
        from quart_appcache.starlette.cli import main
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "('/', " in done.stdout
    assert "('/static/a.js', " in done.stdout


def test_the_quart_adapter_works_without_starlette(tmp_path: Path) -> None:
    done = run(
        ["starlette", "fastapi"],
        """
        import asyncio
        from quart import Quart
        from quart_appcache import Appcache

        app = Quart(__name__)

        @app.route("/")
        async def home():
            return "home"

        appcache = Appcache(app)
        appcache.add_urls("/")
        print(asyncio.run(appcache.entries()))
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "('/', " in done.stdout


def test_the_starlette_adapter_without_starlette_names_the_extra(tmp_path: Path) -> None:
    done = run(["starlette"], "import quart_appcache.starlette", tmp_path)
    assert done.returncode == 1
    assert "pip install 'quart-appcache[starlette]'" in done.stderr


def test_the_quart_adapter_without_quart_names_the_extra(tmp_path: Path) -> None:
    done = run(["quart"], "from quart_appcache import Appcache", tmp_path)
    assert done.returncode == 1
    assert "pip install 'quart-appcache[quart]'" in done.stderr
