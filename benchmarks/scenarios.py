"""The benchmark scenarios. Each returns report rows; peers alternate per round."""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks import browser, queue, trees
from benchmarks.apps import flask_app, quart_app, starlette_app
from benchmarks.limits import hash_loop, hash_two_threads, stat_loop
from benchmarks.load import run_load
from benchmarks.measure import Row, Series, timed

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Context:
    """Where the trees live, how many rounds, and whether this is a smoke run."""

    data: Path
    rounds: int
    smoke: bool

    def tree(self, name: str) -> tuple[Path, list[Path]]:
        if name == "many":
            spec, total = (trees.SMOKE_MANY if self.smoke else trees.MANY), None
        else:
            spec = trees.SMOKE_BIG if self.smoke else trees.BIG
            total = trees.SMOKE_BIG_TOTAL if self.smoke else trees.BIG_TOTAL
        root = self.data / f"{name}-{spec.files}"
        paths = trees.build(root / "static", spec, total)
        # Let the debug-mode cache trust the files: older than its racy window.
        age = time.time() - os.path.getmtime(root / "static" / ".complete")
        if age < 2.5:
            time.sleep(2.5 - age)
        return root, paths


def _check(value: float, target: float, *, at_least: bool, smoke: bool) -> bool | None:
    if smoke:
        return None
    return value >= target if at_least else value <= target


def _cold_hash(root: Path, *, framework: str = "quart", **kwargs: object) -> float:
    if framework == "quart":
        _app, appcache = quart_app(root, **kwargs)  # type: ignore[arg-type]
    else:
        _app, appcache = starlette_app(root, **kwargs)  # type: ignore[arg-type]

    async def run() -> float:
        started = time.perf_counter()
        await appcache.hash()
        return time.perf_counter() - started

    return asyncio.run(run())


def _warm(root: Path) -> None:
    # The premise is "files in page cache", but this machine's host reclaims
    # page cache within seconds; read everything right before each timing.
    # Earlier rounds' garbage is collected here too, as timeit does, so no
    # side pays a generation-2 pass for the other side's objects.
    gc.collect()
    for directory, _, files in os.walk(root / "static"):
        for name in files:
            with open(os.path.join(directory, name), "rb") as handle:
                while handle.read(1 << 20):
                    pass


def _alternate(ctx: Context, steps: list[Callable[[], object]], *series: Series) -> None:
    """Run the steps ``ctx.rounds`` times, reversing their order every other
    round, after one warm-up round whose values are dropped from ``series``
    (as timeit and pyperf warm up: the first rounds after the trees are
    built, or after an idle minute, run up to a third slower here)."""
    if not ctx.smoke:
        for step in steps:
            step()
        for one in series:
            one.values.clear()
    for index in range(ctx.rounds):
        order = steps if index % 2 == 0 else list(reversed(steps))
        for step in order:
            step()


def many(ctx: Context) -> list[Row]:
    """5,000 small files plus 20 template views, cold."""
    root, _ = ctx.tree("many")
    ours = Series("quart_appcache", "s")
    files = Series("quart_appcache", "s")
    flask = Series("Flask-Appcache 0.1.2", "s")
    loop = Series("one-thread limit (os.open/readv, SHA-256)", "s")
    _alternate(
        ctx,
        [
            lambda: (_warm(root), ours.values.append(_cold_hash(root, views=20))),
            lambda: (_warm(root), files.values.append(_cold_hash(root))),
            lambda: (_warm(root), flask.values.append(timed(flask_app(root, views=20).hash))),
            lambda: (_warm(root), loop.values.append(timed(lambda: hash_loop(root / "static")))),
        ],
        ours,
        files,
        flask,
        loop,
    )
    speedup = flask.median / ours.median
    files_ratio = files.median / loop.median
    return [
        Row(
            "many",
            "cold hash()",
            ours,
            flask,
            speedup,
            "≥ 20× faster than Flask-Appcache",
            _check(speedup, 20, at_least=True, smoke=ctx.smoke),
        ),
        Row(
            "many",
            "cold hash(), files part",
            files,
            loop,
            files_ratio,
            "≤ 1.35× the one-thread limit",
            _check(files_ratio, 1.35, at_least=False, smoke=ctx.smoke),
        ),
    ]


def big(ctx: Context) -> list[Row]:
    """300 files, 300 MiB, six of them 10–50 MiB, cold."""
    root, _ = ctx.tree("big")
    ours = Series("quart_appcache", "s")
    flask = Series("Flask-Appcache 0.1.2", "s")
    loop = Series("one-thread limit (1 MiB chunks, SHA-256)", "s")
    two = Series("two-thread limit (the same, files split over 2 threads)", "s")
    _alternate(
        ctx,
        [
            lambda: (_warm(root), ours.values.append(_cold_hash(root))),
            lambda: (_warm(root), flask.values.append(timed(flask_app(root).hash))),
            lambda: (_warm(root), loop.values.append(timed(lambda: hash_loop(root / "static")))),
            lambda: (
                _warm(root),
                two.values.append(timed(lambda: hash_two_threads(root / "static"))),
            ),
        ],
        ours,
        flask,
        loop,
        two,
    )
    loop_ratio = ours.median / loop.median
    two_ratio = ours.median / two.median
    speedup = flask.median / ours.median
    return [
        Row(
            "big",
            "cold hash()",
            ours,
            loop,
            loop_ratio,
            "≤ 0.65× the one-thread limit",
            _check(loop_ratio, 0.65, at_least=False, smoke=ctx.smoke),
        ),
        Row(
            "big",
            "cold hash()",
            ours,
            two,
            two_ratio,
            "≤ 1.2× the two-thread limit",
            _check(two_ratio, 1.2, at_least=False, smoke=ctx.smoke),
        ),
        Row(
            "big",
            "cold hash()",
            ours,
            flask,
            speedup,
            "≥ 2× faster than Flask-Appcache",
            _check(speedup, 2, at_least=True, smoke=ctx.smoke),
        ),
    ]


def stall(ctx: Context) -> list[Row]:
    """The largest event-loop stall and the peak RSS growth while hashing big."""
    root, _ = ctx.tree("big")
    lag = Series("quart_appcache", "s")
    rss = Series("quart_appcache", "MiB")
    for _ in range(ctx.rounds):
        lag.values.append(asyncio.run(_max_lag(root)))
        probe = subprocess.run(
            [sys.executable, "-m", "benchmarks.rss_probe", str(root)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        rss.values.append(float(probe.stdout.strip()))
    return [
        Row(
            "big, while hashing",
            "largest event-loop stall",
            lag,
            None,
            None,
            "≤ 5 ms",
            _check(statistics.median(lag.values), 0.005, at_least=False, smoke=ctx.smoke),
        ),
        Row(
            "big, while hashing",
            "peak RSS growth",
            rss,
            None,
            None,
            "≤ 16 MiB",
            _check(statistics.median(rss.values), 16, at_least=False, smoke=ctx.smoke),
        ),
    ]


async def _max_lag(root: Path) -> float:
    _app, appcache = quart_app(root)
    worst = 0.0
    done = False

    async def ticker() -> None:
        nonlocal worst
        while not done:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            worst = max(worst, time.perf_counter() - before - 0.001)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    await appcache.hash()
    done = True
    await task
    return worst


def views(ctx: Context) -> list[Row]:
    """50 views that each await 20 ms of I/O, on Quart and on Starlette."""
    root, _ = ctx.tree("many")
    count = 10 if ctx.smoke else 50
    ours = Series("quart_appcache", "s")
    star = Series("quart_appcache.starlette", "s")
    flask = Series("Flask-Appcache 0.1.2 (sequential)", "s")
    kwargs = {"views": count, "io_delay": 0.02, "folder": False}
    _alternate(
        ctx,
        [
            lambda: ours.values.append(_cold_hash(root, **kwargs)),
            lambda: star.values.append(_cold_hash(root, framework="starlette", **kwargs)),
            lambda: flask.values.append(timed(flask_app(root, **kwargs).hash)),  # type: ignore[arg-type]
        ],
        ours,
        star,
        flask,
    )
    return [
        Row(
            "views",
            f"hash() of {count} views × 20 ms I/O",
            ours,
            flask,
            flask.median / ours.median,
            "≤ 40 ms",
            _check(ours.median, 0.040, at_least=False, smoke=ctx.smoke),
        ),
        Row(
            "views, Starlette",
            f"hash() of {count} views × 20 ms I/O",
            star,
            flask,
            flask.median / star.median,
            "≤ 40 ms",
            _check(star.median, 0.040, at_least=False, smoke=ctx.smoke),
        ),
    ]


def renders(ctx: Context) -> list[Row]:
    """In-process renders per second: Starlette's renderer beside Quart's test client."""
    root, _ = ctx.tree("many")
    count = 20 if ctx.smoke else 200
    star = Series("quart_appcache.starlette", "renders/s")
    ours = Series("quart_appcache (Quart)", "renders/s")
    _alternate(
        ctx,
        [
            lambda: ours.values.append(count / _cold_hash(root, views=count, folder=False)),
            lambda: star.values.append(
                count / _cold_hash(root, framework="starlette", views=count, folder=False)
            ),
        ],
        ours,
        star,
    )
    return [
        Row(
            "renders",
            f"hash() of {count} template views, no I/O",
            star,
            ours,
            star.median / ours.median,
            "— (reported)",
            None,
        ),
    ]


def debug(ctx: Context) -> list[Row]:
    """Debug mode, unchanged many tree: the second hash() against its floor."""
    root, paths = ctx.tree("many")
    ours = Series("quart_appcache", "s")
    floor = Series("os.stat loop + warm views-only hash()", "s")

    async def second(**kwargs: object) -> float:
        _app, appcache = quart_app(root, debug=True, **kwargs)  # type: ignore[arg-type]
        await appcache.hash()
        started = time.perf_counter()
        await appcache.hash()
        return time.perf_counter() - started

    def measure_floor() -> None:
        views_only = asyncio.run(second(views=20, folder=False))
        floor.values.append(timed(lambda: stat_loop(paths)) + views_only)

    _alternate(
        ctx,
        [lambda: ours.values.append(asyncio.run(second(views=20))), measure_floor],
        ours,
        floor,
    )
    ratio = ours.median / floor.median
    return [
        Row(
            "debug, unchanged many",
            "second hash()",
            ours,
            floor,
            ratio,
            "≤ 1.4× the floor",
            _check(ratio, 1.4, at_least=False, smoke=ctx.smoke),
        ),
    ]


def serve(ctx: Context) -> list[Row]:
    """A finalized manifest under uvicorn and hypercorn against a constant route."""
    sys.path.insert(0, str(REPO))
    from tests.e2e.servers import serve as start

    root, _ = ctx.tree("many")
    seconds = 1.0 if ctx.smoke else 4.0
    rows = []
    for kind in ("uvicorn", "hypercorn"):
        ours = Series("manifest", "req/s")
        const = Series("constant route, same size", "req/s")
        with start(
            REPO,
            kind=kind,
            module="benchmarks.serve_app:app",
            env={"BENCH_ROOT": str(root)},
            logs=ctx.data / "logs",
        ) as server:
            for url in (server.url + "/const", server.url + "/manifest.appcache"):
                run_load(url, connections=50, seconds=0.5, max_requests=100)  # warm up
            for index in range(ctx.rounds):
                pairs = [(server.url + "/manifest.appcache", ours), (server.url + "/const", const)]
                for url, series in pairs if index % 2 == 0 else reversed(pairs):
                    result = run_load(
                        url,
                        connections=50,
                        seconds=seconds,
                        max_requests=400 if ctx.smoke else None,
                    )
                    if result.errors:
                        raise RuntimeError(f"{result.errors} errors loading {url} under {kind}")
                    series.values.append(result.rate)
        ratio = ours.median / const.median
        rows.append(
            Row(
                f"serve, {kind}",
                "finalized manifest, 50 connections",
                ours,
                const,
                ratio,
                "≥ 0.9× the constant route",
                _check(ratio, 0.9, at_least=True, smoke=ctx.smoke),
            )
        )
    return rows


def sizes(ctx: Context) -> list[Row]:
    """The finalized artifacts of the many tree, plain and gzip-compressed."""
    root, _ = ctx.tree("many")
    app, appcache = quart_app(root, views=20)

    async def finalize() -> None:
        await appcache.finalize()

    asyncio.run(finalize())
    frozen = appcache.site(app).frozen
    assert frozen is not None
    named = {
        "AppCache manifest": frozen.artifacts["manifest"],
        "precache JSON": frozen.artifacts["precache"],
        "service worker": frozen.artifacts["sw"],
        "page client": frozen.extension_files["/appcache.js"],
    }
    rows = []
    for label, artifact in named.items():
        plain = Series("plain", "kB", [len(artifact.body) / 1000])
        packed = Series("gzip", "kB", [len(artifact.gzip or artifact.body) / 1000])
        rows.append(
            Row(
                "sizes, many",
                label,
                packed,
                plain,
                packed.median / plain.median,
                "— (reported)",
                None,
            )
        )
    return rows


def startup(ctx: Context) -> list[Row]:
    """App startup with a deploy-time build (checked by content with views rendered, by
    file content, or by size) against finalizing without one: the many tree with 20 views."""
    root, _ = ctx.tree("many")
    build = ctx.data / "startup-build"
    app, _ = quart_app(root, views=20, APPCACHE_BUILD_DIR=str(build))
    result = app.test_cli_runner().invoke(args=["appcache", "build"])
    if result.exit_code != 0:
        raise RuntimeError(f"the build failed: {result.output}")
    with_build = Series("startup with the build (content check)", "s")
    by_files = Series("startup with the build (files check)", "s")
    by_size = Series("startup with the build (size check)", "s")
    without = Series("startup finalizing, no build", "s")

    def start(series: Series, **config: object) -> None:
        fresh, _ = quart_app(root, views=20, **config)  # type: ignore[arg-type]

        async def run() -> float:
            started = time.perf_counter()
            await fresh.startup()
            elapsed = time.perf_counter() - started
            await fresh.shutdown()
            return elapsed

        _warm(root)
        series.values.append(asyncio.run(run()))

    _alternate(
        ctx,
        [
            lambda: start(with_build, APPCACHE_BUILD_DIR=str(build)),
            lambda: start(by_files, APPCACHE_BUILD_DIR=str(build), APPCACHE_BUILD_CHECK="files"),
            lambda: start(by_size, APPCACHE_BUILD_DIR=str(build), APPCACHE_BUILD_CHECK="size"),
            lambda: start(without, APPCACHE_BUILD_DIR=str(ctx.data / "no-build")),
        ],
        with_build,
        by_files,
        by_size,
        without,
    )
    return [
        Row(
            "startup, many",
            "with a build, files hashed and views rendered to check it",
            with_build,
            without,
            with_build.median / without.median,
            "— (reported)",
            None,
        ),
        Row(
            "startup, many",
            "with a build, files hashed to check it",
            by_files,
            without,
            by_files.median / without.median,
            "— (reported)",
            None,
        ),
        Row(
            "startup, many",
            "with a build, sizes checked",
            by_size,
            without,
            by_size.median / without.median,
            "— (reported)",
            None,
        ),
    ]


def load(ctx: Context) -> list[Row]:
    """At least 20,000 requests at 64 connections against a finalized app under uvicorn."""
    sys.path.insert(0, str(REPO))
    from tests.e2e.servers import serve as start

    root, _ = ctx.tree("many")
    wanted = 500 if ctx.smoke else 20_000
    rate = Series("manifest", "req/s")
    with start(
        REPO,
        kind="uvicorn",
        module="benchmarks.serve_app:app",
        env={"BENCH_ROOT": str(root)},
        logs=ctx.data / "logs",
    ) as server:
        seconds = 2.0
        while True:
            result = run_load(
                server.url + "/manifest.appcache",
                connections=64,
                seconds=seconds,
                max_requests=wanted if ctx.smoke else None,
            )
            if result.requests >= wanted or ctx.smoke:
                break
            seconds *= 2 * wanted / max(result.requests, 1)
    rate.values.append(result.rate)
    ok = result.errors == 0 and result.requests >= wanted
    return [
        Row(
            "load, uvicorn",
            f"{result.requests:,} requests, 64 connections, {result.errors} errors",
            rate,
            None,
            None,
            "0 errors over ≥ 20,000 requests",
            None if ctx.smoke else ok,
        ),
    ]


SCENARIOS: dict[str, Callable[[Context], list[Row]]] = {
    "many": many,
    "big": big,
    "stall": stall,
    "views": views,
    "renders": renders,
    "debug": debug,
    "serve": serve,
    "load": load,
    "sizes": sizes,
    "startup": startup,
    "preload": browser.preload,
    "workers": browser.workers,
    "queue": queue.queue,
}
