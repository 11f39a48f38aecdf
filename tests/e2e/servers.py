"""Real servers as subprocesses on 127.0.0.1, for the end-to-end tests."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EXAMPLE = REPO / "examples"
START_TIMEOUT = 30.0
_runs = itertools.count()
# The query parameter the worker downloads entries with (APPCACHE_HASHED_NAMES).
REVISION_QUERY = re.compile(r"[?&]__appcache_revision=[0-9a-f]+$")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def copy_example(target: Path) -> Path:
    """A private copy of the example app, safe to change during a test."""
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@dataclass
class Server:
    """A running server: its base URL, process and log files."""

    url: str
    process: subprocess.Popen[bytes]
    output: Path
    access_log: Path | None

    def wait_for_request(
        self, line: str, timeout: float = 10.0, *, plain: bool = False
    ) -> list[str]:
        """Wait until the access log shows ``line`` (it is written after the
        response is sent, so a browser can act on it first). Returns the log;
        with ``plain``, without the precache's revision parameters."""
        deadline = time.monotonic() + timeout
        while line not in (seen := self.requests(plain=plain)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return seen

    def requests(self, *, plain: bool = False) -> list[str]:
        """Request lines (``GET /path?query``) from the access log so far; with
        ``plain``, precache downloads without their ``__appcache_revision``."""
        if self.access_log is None or not self.access_log.exists():
            return []
        lines = []
        for line in self.access_log.read_text(errors="replace").splitlines():
            if '"' in line:
                method, _, rest = line.split('"', 2)[1].partition(" ")
                lines.append(f"{method} {rest.rsplit(' ', 1)[0].removesuffix('?')}")
        if plain:
            return [REVISION_QUERY.sub("", line) for line in lines]
        return lines


def command(
    kind: str,
    module: str,
    port: int,
    workers: int,
    access_log: Path | None,
    root_path: str | None = None,
) -> list[str]:
    """The command line that serves ``module`` with hypercorn or uvicorn."""
    prefix = ["--root-path", root_path] if root_path else []
    if kind == "hypercorn":
        cmd = [str(BIN / "hypercorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
        if access_log is not None:
            # The request line with its query string (hypercorn's %(r)s leaves it out).
            log_format = '%(h)s "%(m)s %(U)s?%(q)s %(H)s" %(s)s'
            cmd += ["--access-logfile", str(access_log), "--access-logformat", log_format]
        return [*cmd, *prefix, module]
    if kind == "uvicorn":
        return [
            str(BIN / "uvicorn"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            *prefix,
            module,
        ]
    raise ValueError(kind)


@contextmanager
def serve(
    cwd: Path,
    *,
    kind: str = "hypercorn",
    module: str = "app:app",
    workers: int = 1,
    port: int | None = None,
    env: dict[str, str] | None = None,
    ready_path: str = "/manifest.appcache",
    logs: Path | None = None,
    root_path: str | None = None,
) -> Iterator[Server]:
    """Start a server in ``cwd`` and wait until ``ready_path`` answers.

    Its output and access log go to ``logs`` (default: ``cwd``).
    """
    port = port or free_port()
    run = next(_runs)
    logs = logs or cwd
    logs.mkdir(parents=True, exist_ok=True)
    output = logs / f"server-{port}-{run}.log"
    access_log = logs / f"access-{port}-{run}.log" if kind == "hypercorn" else None
    with output.open("wb") as out:
        process = subprocess.Popen(
            command(kind, module, port, workers, access_log, root_path),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, output, access_log)
    try:
        wait_ready(server, ready_path)
        yield server
    finally:
        stop(server)


def wait_ready(server: Server, path: str) -> None:
    """Poll until the server answers, or fail with its output."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{log(server)}")
        try:
            if httpx.get(server.url + path, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not answer within {START_TIMEOUT} s:\n{log(server)}")


def stop(server: Server) -> None:
    """Stop the server and all its workers."""
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(10)


def log(server: Server) -> str:
    """What the server printed."""
    return server.output.read_text(errors="replace")


# An example app that tracks a URL nobody routes.
BROKEN_APP = """
from app import appcache, create_app

app = create_app()
appcache.add_urls("/nope")
"""

# The FastAPI example, tracking a URL nobody routes, with a lifespan that says
# when its code after `yield` ran.
BROKEN_FASTAPI_APP = """
from contextlib import asynccontextmanager

import fastapi_app
from quart_appcache.starlette import get_appcache

opened = fastapi_app.lifespan


@asynccontextmanager
async def lifespan(app):
    async with opened(app) as state:
        yield state
    print("lifespan shut down", flush=True)


fastapi_app.lifespan = lifespan
app = fastapi_app.create_app()
get_appcache(app).add_urls("/nope")
"""


def failed_start(
    cwd: Path, cmd: Sequence[str], url: str, timeout: float = 60
) -> tuple[list[int], str]:
    """Run a server that should fail to start; ask ``url`` until it exits.

    Returns:
        The statuses ``url`` answered meanwhile (none, if no worker ever
        served), and what the server printed.
    """
    output = cwd / f"failed-start-{next(_runs)}.log"
    with output.open("wb") as out:
        process = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
    statuses: list[int] = []
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"still running after {timeout} s:\n{output.read_text()}")
            with suppress(httpx.TransportError):
                statuses.append(httpx.get(url, timeout=1).status_code)
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    return statuses, output.read_text(errors="replace")


def run_quart(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the venv's ``quart`` CLI in ``root`` (an example copy)."""
    return subprocess.run(
        [str(BIN / "quart"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(root)},
    )


def run_to_exit(
    cwd: Path, cmd: Sequence[str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a command that should exit by itself (a server that fails to start)."""
    return subprocess.run(
        list(cmd),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
