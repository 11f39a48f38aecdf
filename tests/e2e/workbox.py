"""Workbox from npm, pinned, installed once into a cache folder by the test setup."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

WORKBOX_VERSION = "7.4.1"
MODULES = (
    "workbox-sw",
    "workbox-core",
    "workbox-precaching",
    "workbox-routing",
    "workbox-strategies",
)
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "quart-appcache-tests"


def workbox_files() -> list[Path]:
    """The browser builds of Workbox's modules (``workbox-sw.js`` and ``*.prod.js``)."""
    prefix = CACHE / f"workbox-{WORKBOX_VERSION}"
    modules = prefix / "node_modules"
    if not all((modules / name / "package.json").exists() for name in MODULES):
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
                *(f"{name}@{WORKBOX_VERSION}" for name in MODULES),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    files = [modules / "workbox-sw" / "build" / "workbox-sw.js"]
    files += [modules / name / "build" / f"{name}.prod.js" for name in MODULES[1:]]
    missing = [str(path) for path in files if not path.exists()]
    assert not missing, f"npm did not install {missing}"
    return files
