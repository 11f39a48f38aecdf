"""Benchmarks in Debian's Chromium: what a visitor waits for.

``preload``: the first byte of a network-first page load while the service
worker is asleep (stopped, as browsers stop idle workers), with navigation
preload and without. The worker is stopped through the DevTools protocol
before every load; the time is the navigation's ``responseStart``.

``workers``: the generated worker against Workbox 7.4.1 (the documented
recipe, ``precacheAndRoute`` over the same entries) on bundles of 300 and
2,000 files of 1-64 KiB, served by hypercorn: a first visit's time to
offline-ready (the worker activated, every entry cached) in a fresh profile,
the worker's JavaScript heap then (the DevTools protocol's Runtime.getHeapUsage),
the latency of precached fetches from the page (and of the same fetches with
no worker), an update after one file and after 10% of the files changed (the
time from the update check to the new version installed, and what the server
sent: the tree changes on, so the byte counts of the two workers differ by
the few bytes each change appends), and the worker script's size with what
it loads, gzip.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from benchmarks.measure import Row, Series

REPO = Path(__file__).resolve().parents[1]
# Worker start-ups per round and side (medians of these go in a round's value).
LOADS = 9


async def _first_byte(page: Any, url: str, asleep: bool) -> float:
    from tests.e2e.browser import stop_workers

    if asleep:
        await stop_workers(page)
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
                    # The page says whether the server saw a preload request.
                    await page.goto(server.url + "/page")
                    if await page.text_content("#preload") != expected:
                        raise RuntimeError(f"{server.url}: preload header is not {expected!r}")
                    sides.append((server, series, page, True))
                    if server is off:
                        sides.append((server, awake, page, False))
                for index in range(rounds):
                    order = sides if index % 2 == 0 else list(reversed(sides))
                    for server, series, page, asleep in order:
                        loads = [
                            await _first_byte(page, f"{server.url}/page?n={n}", asleep)
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


# -- our worker against Workbox's, on the same bundles ------------------------------

FETCHES = 500
INSTALLED = """async () => {
    const registration = await navigator.serviceWorker.ready;
    const worker = registration.active;
    if (worker.state !== 'activated') {
        await new Promise((resolve) => worker.addEventListener('statechange', () => {
            if (worker.state === 'activated') { resolve(); }
        }));
    }
    return performance.now();
}"""
SKIP_WAITING = """() => navigator.serviceWorker.getRegistration().then((registration) => {
    if (!registration.waiting) { return null; }
    const worker = registration.waiting;
    worker.postMessage({type: 'SKIP_WAITING'});
    return new Promise((resolve) => worker.addEventListener('statechange', () => {
        if (worker.state === 'activated') { resolve(true); }
    }));
})"""
CACHED = """async () => {
    let most = 0;
    for (const name of await caches.keys()) {
        most = Math.max(most, (await (await caches.open(name)).keys()).length);
    }
    return most;
}"""
LATENCIES = """async (urls) => {
    const times = [];
    for (const url of urls) {
        const started = performance.now();
        const response = await fetch(url);
        await response.arrayBuffer();
        times.push(performance.now() - started);
    }
    return times;
}"""


# Until a new version is installed (waiting, or taken over: pinned versions do),
# after an update check the page asks for.
UPDATED = """async () => {
    const registration = await navigator.serviceWorker.ready;
    const before = registration.active;
    const started = performance.now();
    await registration.update();
    const worker = registration.installing || registration.waiting
        || (registration.active !== before ? registration.active : null);
    if (!worker) { throw new Error('no new version'); }
    if (worker.state === 'installing') {
        await new Promise((resolve, reject) => worker.addEventListener('statechange', () => {
            if (worker.state === 'redundant') { reject(new Error('the update failed')); }
            if (worker.state !== 'installing') { resolve(); }
        }));
    }
    return performance.now() - started;
}"""


def _change(files: list[Path], share: float, round_: int) -> list[Path]:
    """Change ``share`` of the files (at least one), different ones each round."""
    count = max(1, int(len(files) * share))
    start = (round_ * count) % len(files)
    changed = [files[(start + i) % len(files)] for i in range(count)]
    for path in changed:
        with path.open("ab") as out:
            out.write(f"changed in round {round_}\n".encode())
    return changed


def _downloaded(server: Any, before: int, root: Path) -> tuple[int, int]:
    """Entries the server sent since ``before`` log lines, and their bytes on disk."""
    lines = server.requests(plain=True)[before:]
    paths = [line.split(" ", 1)[1].split("?", 1)[0] for line in lines]
    # (Workbox's own modules, which its new worker loads again, are not entries.)
    files = [
        root / path.lstrip("/")
        for path in paths
        if path.startswith("/static/") and not path.startswith("/static/workbox/")
    ]
    return len(files), sum(path.stat().st_size for path in files if path.exists())


async def _worker_heap(browser: Any, origin: str) -> float:
    """The JavaScript heap the service worker of ``origin`` uses, in bytes (DevTools
    protocol: the worker's target, ``Runtime.getHeapUsage``)."""
    cdp = await browser.new_browser_cdp_session()
    try:
        targets = (await cdp.send("Target.getTargets"))["targetInfos"]
        [worker] = [
            t for t in targets if t["type"] == "service_worker" and t["url"].startswith(origin)
        ]
        attached = await cdp.send(
            "Target.attachToTarget", {"targetId": worker["targetId"], "flatten": False}
        )
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        def received(event: dict[str, Any]) -> None:
            message = json.loads(event["message"])
            if message.get("id") == 1 and not answer.done():
                answer.set_result(message)

        cdp.on("Target.receivedMessageFromTarget", received)
        question = {"id": 1, "method": "Runtime.getHeapUsage"}
        await cdp.send(
            "Target.sendMessageToTarget",
            {"sessionId": attached["sessionId"], "message": json.dumps(question)},
        )
        reply = await asyncio.wait_for(answer, 10)
        return float(reply["result"]["usedSize"])
    finally:
        await cdp.detach()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _prepare(root: Path) -> None:
    """Workbox's browser builds and the documented recipe, beside the bundle."""
    from tests.e2e.npm_packages import workbox_files
    from tests.e2e.test_workbox import readme_recipe

    target = root / "static" / "workbox"
    target.mkdir(parents=True, exist_ok=True)
    for path in workbox_files():
        shutil.copy(path, target / path.name)
    (root / "templates").mkdir(exist_ok=True)
    (root / "templates" / "workbox-sw.js").write_text(readme_recipe())


def _script_bytes(url: str, root: Path, workbox: bool) -> tuple[int, int]:
    """The worker's script, plain and gzip; Workbox's with the modules it loads."""
    import httpx

    plain = httpx.get(url + "/sw.js").content
    sizes = [len(plain)]
    packed = [len(gzip.compress(plain))]
    if workbox:
        for path in sorted((root / "static" / "workbox").iterdir()):
            data = path.read_bytes()
            sizes.append(len(data))
            packed.append(len(gzip.compress(data)))
    return sum(sizes), sum(packed)


async def _workers(ctx: Any) -> list[Row]:
    sys.path.insert(0, str(REPO))
    from playwright.async_api import async_playwright

    from benchmarks import trees
    from tests.e2e.browser import ARGS, CHROMIUM
    from tests.e2e.servers import serve as start

    rows: list[Row] = []
    for spec in trees.SMOKE_BUNDLES if ctx.smoke else trees.BUNDLES:
        root = ctx.data / f"bundle-{spec.files}"
        trees.build(root / "static", spec)
        _prepare(root)
        env = {"BENCH_ROOT": str(root)}
        logs = ctx.data / "logs"
        install = {kind: Series(f"{kind}: offline-ready", "s") for kind in ("ours", "workbox")}
        p50 = {kind: Series(f"{kind}: p50", "s") for kind in ("ours", "workbox", "none")}
        p95 = {kind: Series(f"{kind}: p95", "s") for kind in ("ours", "workbox", "none")}
        shares = {"one file": 0.0, "10% of the files": 0.1}
        update = {
            (kind, share): Series(f"{kind}: update", "s")
            for kind in ("ours", "workbox")
            for share in shares
        }
        sent: dict[tuple[str, str], tuple[int, int]] = {}
        heap = {kind: Series(f"{kind}: worker heap", "B") for kind in ("ours", "workbox")}
        files = sorted(path for path in (root / "static").rglob("f*.bin"))
        module = "benchmarks.bundle_app:app"
        with (
            start(REPO, module=module, env={**env, "BENCH_WORKER": "ours"}, logs=logs) as ours,
            start(REPO, module=module, env={**env, "BENCH_WORKER": "workbox"}, logs=logs) as wb,
        ):
            servers = {"ours": ours.url, "workbox": wb.url}
            running = {"ours": ours, "workbox": wb}
            import httpx

            entries = httpx.get(ours.url + "/precache-manifest.json").json()
            static = [e["url"] for e in entries if e["url"].startswith("/static/")]
            count = FETCHES if not ctx.smoke else 20
            urls = [static[i % len(static)] for i in range(count)]
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, args=ARGS, headless=True
                )
                try:
                    for index in range(ctx.rounds):
                        kinds = ["ours", "workbox", "none"]
                        for kind in kinds if index % 2 == 0 else list(reversed(kinds)):
                            base = servers.get(kind, ours.url)
                            context = await browser.new_context(
                                service_workers="block" if kind == "none" else "allow"
                            )
                            page = await context.new_page()
                            await page.goto(base + "/")
                            if kind != "none":
                                install[kind].values.append(await page.evaluate(INSTALLED) / 1000)
                                heap[kind].values.append(await _worker_heap(browser, base))
                                cached = await page.evaluate(CACHED)
                                if cached != len(entries):
                                    raise RuntimeError(f"{kind}: {cached} of {len(entries)} cached")
                                await page.reload()  # controlled from its first request
                            times = await page.evaluate(LATENCIES, [base + url for url in urls])
                            p50[kind].values.append(_percentile(times, 0.5) / 1000)
                            p95[kind].values.append(_percentile(times, 0.95) / 1000)
                            if kind != "none":
                                for share, fraction in shares.items():
                                    before = len(running[kind].requests())
                                    _change(files, fraction, index)
                                    took = await page.evaluate(UPDATED)
                                    update[kind, share].values.append(took / 1000)
                                    sent[kind, share] = _downloaded(running[kind], before, root)
                                    if kind == "workbox":  # its new version waits: apply it
                                        await page.evaluate(SKIP_WAITING)
                            await context.close()
                finally:
                    await browser.close()
            ours_size = _script_bytes(ours.url, root, workbox=False)
            wb_size = _script_bytes(wb.url, root, workbox=True)
        label = f"workers, {spec.files} files"
        ratio = install["ours"].median / install["workbox"].median
        rows.append(
            Row(
                label,
                "first visit to offline-ready (integrity checks on)",
                install["ours"],
                install["workbox"],
                ratio,
                "≤ 1.0× Workbox",
                None if ctx.smoke else ratio <= 1.0,
            )
        )
        ratio = p50["ours"].median / p50["workbox"].median
        rows.append(
            Row(
                label,
                f"precached fetch p50 over {count}",
                p50["ours"],
                p50["workbox"],
                ratio,
                "≤ 1.1× Workbox",
                None if ctx.smoke else ratio <= 1.1,
            )
        )
        rows.append(
            Row(
                label,
                "precached fetch p50, against no worker",
                p50["ours"],
                p50["none"],
                p50["ours"].median / p50["none"].median,
                "(measured)",
                None,
            )
        )
        rows.append(
            Row(
                label,
                "precached fetch p95",
                p95["ours"],
                p95["workbox"],
                p95["ours"].median / p95["workbox"].median,
                "(measured)",
                None,
            )
        )
        for share in shares:
            ours_update, wb_update = update["ours", share], update["workbox", share]
            ratio = ours_update.median / wb_update.median
            (count_ours, bytes_ours), (count_wb, bytes_wb) = (
                sent["ours", share],
                sent["workbox", share],
            )
            rows.append(
                Row(
                    label,
                    f"update after {share} changed (downloads: ours {count_ours} files "
                    f"{bytes_ours:,} B, Workbox {count_wb} files {bytes_wb:,} B)",
                    ours_update,
                    wb_update,
                    ratio,
                    "≤ 1.0× Workbox, the same downloads",
                    None if ctx.smoke else ratio <= 1.0 and count_ours == count_wb,
                )
            )
        rows.append(
            Row(
                label,
                "the worker's JavaScript heap once offline-ready",
                heap["ours"],
                heap["workbox"],
                heap["ours"].median / heap["workbox"].median,
                "(measured)",
                None,
            )
        )
        ours_gzip = Series("ours, gzip", "B", [float(ours_size[1])])
        wb_gzip = Series("Workbox with its modules, gzip", "B", [float(wb_size[1])])
        ratio = ours_gzip.median / wb_gzip.median
        rows.append(
            Row(
                label,
                f"worker script (plain: ours {ours_size[0]:,} B, Workbox {wb_size[0]:,} B)",
                ours_gzip,
                wb_gzip,
                ratio,
                "≤ 1.0× Workbox",
                None if ctx.smoke else ratio <= 1.0,
            )
        )
    return rows


def workers(ctx: Any) -> list[Row]:
    """Our worker against Workbox's on the same bundles (see the module's docstring)."""
    return asyncio.run(_workers(ctx))
