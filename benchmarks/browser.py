"""Benchmarks in Debian's Chromium: what a visitor waits for.

``preload``: the first byte of a network-first page load while the service
worker is asleep (stopped, as browsers stop idle workers), with navigation
preload and without. The worker is stopped through the DevTools protocol
before every load; the time is the navigation's ``responseStart``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from benchmarks.measure import Row, Series

REPO = Path(__file__).resolve().parents[1]
# Worker start-ups per round and side (medians of these go in a round's value).
LOADS = 9


async def _stop_workers(cdp: Any, versions: dict[str, str]) -> None:
    """Stop every service worker and wait until each says it stopped."""
    await cdp.send("ServiceWorker.stopAllWorkers")
    for _ in range(200):
        if versions and all(status == "stopped" for status in versions.values()):
            return
        await asyncio.sleep(0.01)
    raise RuntimeError(f"the service workers did not stop: {versions}")


async def _first_byte(
    page: Any, cdp: Any, versions: dict[str, str], url: str, asleep: bool
) -> float:
    if asleep:
        await _stop_workers(cdp, versions)
    await page.goto(url)
    timing = await page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return [n.responseStart - n.startTime, n.workerStart > 0]; })()"
    )
    seconds, via_worker = timing[0] / 1000, timing[1]
    if not via_worker:
        raise RuntimeError(f"{url} did not go through the service worker")
    return float(seconds)


async def _preload(ctx: Any) -> list[Row]:
    sys.path.insert(0, str(REPO))
    from playwright.async_api import async_playwright

    from tests.e2e.browser import ARGS, CHROMIUM, open_controlled
    from tests.e2e.servers import serve as start

    with_preload = Series("with preload", "s")
    without = Series("without preload", "s")
    awake = Series("worker awake, without preload", "s")
    logs = ctx.data / "logs"
    rounds = ctx.rounds
    with (
        start(
            REPO, module="benchmarks.preload_app:app", env={"BENCH_PRELOAD": "1"}, logs=logs
        ) as on,
        start(
            REPO, module="benchmarks.preload_app:app", env={"BENCH_PRELOAD": "0"}, logs=logs
        ) as off,
    ):
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=ARGS, headless=True
            )
            try:
                sides = []
                for server, series, expected in (
                    (on, with_preload, "true"),
                    (off, without, "none"),
                ):
                    context = await browser.new_context()
                    page = await open_controlled(context, server.url + "/")
                    cdp = await context.new_cdp_session(page)
                    versions: dict[str, str] = {}

                    def seen(event: dict[str, Any], versions: dict[str, str] = versions) -> None:
                        for version in event["versions"]:
                            versions[version["versionId"]] = version["runningStatus"]

                    cdp.on("ServiceWorker.workerVersionUpdated", seen)
                    await cdp.send("ServiceWorker.enable")
                    # The page says whether the server saw a preload request.
                    await page.goto(server.url + "/page")
                    if await page.text_content("#preload") != expected:
                        raise RuntimeError(f"{server.url}: preload header is not {expected!r}")
                    sides.append((server, series, page, cdp, versions, True))
                    if server is off:
                        sides.append((server, awake, page, cdp, versions, False))
                for index in range(rounds):
                    order = sides if index % 2 == 0 else list(reversed(sides))
                    for server, series, page, cdp, versions, asleep in order:
                        loads = [
                            await _first_byte(
                                page, cdp, versions, f"{server.url}/page?n={n}", asleep
                            )
                            for n in range(1 if ctx.smoke else LOADS)
                        ]
                        loads.sort()
                        series.values.append(loads[len(loads) // 2])
            finally:
                await browser.close()
    ratio = with_preload.median / without.median
    return [
        Row(
            "preload",
            "first byte of a network-first page load, worker asleep, 20 ms page",
            with_preload,
            without,
            ratio,
            "≤ 1.02× without preload (never slower)",
            None if ctx.smoke else ratio <= 1.02,
        ),
        Row(
            "preload",
            "what a sleeping worker costs here, without preload",
            without,
            awake,
            without.median / awake.median,
            "(measured: the start-up preload can hide)",
            None,
        ),
    ]


def preload(ctx: Any) -> list[Row]:
    """The navigation-preload scenario (see the module's docstring)."""
    return asyncio.run(_preload(ctx))
