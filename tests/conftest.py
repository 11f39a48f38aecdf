"""Shared fixtures: a real Quart app with a static folder and a few views."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from quart import Quart

from quart_appcache import Appcache

AppFactory = Callable[..., tuple[Quart, Appcache]]


def write(path: Path, content: str | bytes) -> Path:
    """Write a file, creating its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def parse_manifest(text: str) -> dict[str, list[str]]:
    """Parse a cache manifest as the AppCache spec does; fail on anything invalid."""
    lines = text.splitlines()
    assert lines[0] == "CACHE MANIFEST", f"first line is {lines[0]!r}"
    sections: dict[str, list[str]] = {"CACHE": [], "FALLBACK": [], "NETWORK": []}
    current = "CACHE"
    for line in lines[1:]:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith(":") and line[:-1] in ("CACHE", "FALLBACK", "NETWORK", "SETTINGS"):
            current = line[:-1]
            continue
        assert current in sections, f"unknown section {current}"
        tokens = line.split()
        if current == "FALLBACK":
            assert len(tokens) == 2, f"bad FALLBACK line {line!r}"
        else:
            assert len(tokens) == 1, f"bad line {line!r} in {current}"
        for token in tokens:
            assert token == "*" or token.startswith("/"), f"bad URL {token!r}"
            assert token.isascii(), f"non-ASCII URL {token!r}"
        sections[current].append(line)
    return sections


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The base names of the files the hashing stage opens, in order."""
    from quart_appcache import hashing

    opened: list[str] = []
    real = hashing._open

    def counting(path: str) -> Any:
        opened.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(hashing, "_open", counting)
    return opened


@pytest.fixture
def make_app(tmp_path: Path) -> AppFactory:
    """Build a Quart app rooted at tmp_path with static files and views."""

    def factory(*, debug: bool = False, init: bool = True, **config: Any) -> tuple[Quart, Appcache]:
        root = tmp_path / "app"
        write(root / "static" / "app.js", "console.log('app');\n")
        write(root / "static" / "css" / "app.css", "body { color: red; }\n")
        app = Quart("testapp", root_path=str(root))
        app.debug = debug
        app.config.update(config)

        @app.route("/")
        async def index() -> str:
            return "<h1>home</h1>"

        @app.route("/offline")
        async def offline() -> str:
            return "<h1>offline</h1>"

        appcache = Appcache(app) if init else Appcache()
        return app, appcache

    return factory


StarletteFactory = Callable[..., "tuple[Any, Any]"]


@pytest.fixture
def make_starlette(tmp_path: Path) -> StarletteFactory:
    """Build a Starlette app rooted at tmp_path: a lifespan that opens a
    "database" the views read from, a StaticFiles mount and two views."""
    from tests.starlette_apps import starlette_app

    def factory(**settings: Any) -> tuple[Any, Any]:
        return starlette_app(tmp_path / "app", **settings)

    return factory


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A redis-server of the tests' own for the session (no persistence)."""
    from .redis_server import redis_server

    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url
