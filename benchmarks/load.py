"""Loopback load: wrk when the machine has it, a small asyncio client otherwise."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from dataclasses import dataclass

import httpx


@dataclass
class LoadResult:
    """Requests completed, their rate, and every kind of failure."""

    requests: int
    seconds: float
    errors: int
    tool: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def run_load(
    url: str, *, connections: int, seconds: float, max_requests: int | None = None
) -> LoadResult:
    """Load ``url`` for ``seconds`` (wrk) or up to ``max_requests`` (fallback)."""
    if shutil.which("wrk"):
        return _wrk(url, connections, seconds)
    return asyncio.run(_python_load(url, connections, seconds, max_requests))


def _wrk(url: str, connections: int, seconds: float) -> LoadResult:
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    out = done.stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if total is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    elapsed = float(total.group(2)) / (1000 if total.group(3) == "ms" else 1)
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        errors += int(non_2xx.group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return LoadResult(int(total.group(1)), elapsed, errors, "wrk")


async def _python_load(
    url: str, connections: int, seconds: float, max_requests: int | None
) -> LoadResult:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    count = errors = 0
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def worker() -> None:
            nonlocal count, errors
            while time.monotonic() < deadline and (max_requests is None or count < max_requests):
                count += 1
                try:
                    response = await client.get(url)
                    if response.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return LoadResult(count, time.monotonic() - started, errors, "httpx")
