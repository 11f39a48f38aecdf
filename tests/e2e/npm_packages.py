"""Workbox and axe-core from npm, pinned, installed once into a cache folder by the test setup."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

WORKBOX_VERSION = "7.4.1"
AXE_VERSION = "4.14.1"
MODULES = (
    "workbox-sw",
    "workbox-core",
    "workbox-precaching",
    "workbox-routing",
    "workbox-strategies",
)
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "quart-appcache-tests"


def _installed(prefix: Path, packages: list[str]) -> Path:
    """``node_modules`` under ``prefix``, with ``packages`` (name@version) installed."""
    modules = prefix / "node_modules"
    names = [package.rsplit("@", 1)[0] for package in packages]
    if not all((modules / name / "package.json").exists() for name in names):
        prefix.mkdir(parents=True, exist_ok=True)
        npm = shutil.which("npm") or "npm"
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(prefix),
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--loglevel=error",
                *packages,
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return modules


def workbox_files() -> list[Path]:
    """The browser builds of Workbox's modules (``workbox-sw.js`` and ``*.prod.js``)."""
    modules = _installed(
        CACHE / f"workbox-{WORKBOX_VERSION}", [f"{name}@{WORKBOX_VERSION}" for name in MODULES]
    )
    files = [modules / "workbox-sw" / "build" / "workbox-sw.js"]
    files += [modules / name / "build" / f"{name}.prod.js" for name in MODULES[1:]]
    missing = [str(path) for path in files if not path.exists()]
    assert not missing, f"npm did not install {missing}"
    return files


def axe_source() -> str:
    """axe-core's browser build (``axe.min.js``)."""
    modules = _installed(CACHE / f"axe-core-{AXE_VERSION}", [f"axe-core@{AXE_VERSION}"])
    path = modules / "axe-core" / "axe.min.js"
    assert path.exists(), f"npm did not install {path}"
    return path.read_text()
