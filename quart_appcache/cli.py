"""The ``build`` and ``show`` commands, shared by both adapters' CLIs.

``quart appcache build|show`` (Quart) and ``python -m quart_appcache.starlette
build|show APP`` (Starlette, FastAPI) both run the app's own startup (so
views that need a database work), compute the bundle strictly, and shut the
app down again, whatever happened. Any error ends with a one-line
``Error: ...`` and exit status 1; ``--traceback`` shows the traceback too.
Built on click; no web framework imports.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO, TypeVar
from urllib.parse import urlsplit

import click

from .build import write_build
from .errors import AppcacheError
from .render import PrefixedBundle, non_pages
from .serving import Artifact

if TYPE_CHECKING:
    from .site import Frozen, Site

__all__ = [
    "Bar",
    "human_size",
    "output_option",
    "run_build",
    "run_show",
    "traceback_option",
    "verify_command",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def human_size(size: int) -> str:
    """``1234567`` -> ``1.2 MB``."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


class Bar:
    """click's progress bar as the pipeline's progress: drawn only on a terminal."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self._bar: Any = None

    def start(self, total: int) -> None:
        """Open the bar for ``total`` entries."""
        self._bar = click.progressbar(
            length=total,
            label=self.label,
            file=self.stream,
            hidden=not self.stream.isatty(),
            show_pos=True,
        )
        self._bar.__enter__()

    def advance(self, count: int) -> None:
        """Count entries done."""
        if self._bar is not None:
            self._bar.update(count)

    def finish(self) -> None:
        """End the bar's line."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def output_option(func: F) -> F:
    """The ``--output/-o`` option of ``build``."""
    return click.option(
        "--output",
        "-o",
        type=click.Path(file_okay=False),
        default=None,
        help="Folder to write to (default: the build folder setting).",
    )(func)


def traceback_option(func: F) -> F:
    """The ``--traceback`` option: show the whole traceback of an error."""
    return click.option(
        "--traceback",
        "show_traceback",
        is_flag=True,
        default=False,
        help="Show the traceback of an error, not just its message.",
    )(func)


async def _computed(site: Site, progress: Bar | None) -> Frozen:
    site.startup_mode = "cli"
    try:
        async with site.host.lifespan():
            try:
                return await site.finalize(progress=progress)
            finally:
                if progress is not None:
                    progress.finish()
    finally:
        site.startup_mode = "serve"


def _guarded(work: Callable[[], T], show_traceback: bool) -> T:
    """Run ``work``; every exception becomes a one-line ``Error: ...`` (exit 1).

    ``--traceback`` lets it through instead, traceback and all.
    """
    try:
        return work()
    except (click.ClickException, click.Abort):
        raise
    except Exception as error:
        if show_traceback:
            raise
        message = str(error) if isinstance(error, AppcacheError) else _describe(error)
        raise click.ClickException(message) from None


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return f"{text} (run again with --traceback to see where)"


def run_build(site: Site, output: str | None, show_traceback: bool) -> None:
    """Compute the bundle once and write every artifact into a build folder."""
    key = site.settings.names.name("APPCACHE_BUILD_DIR")
    folder = output or site.build_dir
    if folder is None:
        raise click.ClickException(
            f"No build folder: pass --output DIR, and set {key} to that folder so the "
            "servers read the build at startup."
        )
    started = time.perf_counter()
    progress = Bar(sys.stderr, "hashing")
    frozen = _guarded(lambda: asyncio.run(_computed(site, progress)), show_traceback)
    snapshot = frozen.snapshot
    artifacts: dict[str, Artifact] = {str(name): a for name, a in frozen.artifacts.items()}
    # No event loop runs any more: reading templates and writing may block.
    _guarded(
        lambda: write_build(
            folder, snapshot, artifacts, frozen.extension_files, site.fingerprint()
        ),
        show_traceback,
    )
    total = sum(item.size for item in snapshot.app_entries)
    click.echo(
        f"Built {len(snapshot.app_entries):,} entries ({human_size(total)}), "
        f"version {snapshot.version[:16]}, in {time.perf_counter() - started:.2f} s "
        f"into {folder}"
    )
    served = site.build_dir
    if served is None:
        click.echo(
            f"Warning: the servers read no build ({key} is not set): set it to {folder!r} "
            "so they serve this one.",
            err=True,
        )
    elif os.path.abspath(served) != os.path.abspath(folder):
        click.echo(
            f"Warning: the servers read builds from {served!r} ({key}), not {folder!r}: "
            f"set {key} to {folder!r}, or build without --output.",
            err=True,
        )


def run_show(site: Site, show_traceback: bool) -> None:
    """List the tracked URLs with their sizes, origins and revisions, the
    version, the page loads the worker never answers with the fallback, and
    the writes it queues."""
    snapshot = _guarded(lambda: asyncio.run(_computed(site, None)), show_traceback).snapshot
    own = [item for item in snapshot.revisions if item.kind == "own"]
    discovered = set(snapshot.discovery.pages)
    width = max([len("URL"), *(len(item.url) for item in snapshot.revisions)])
    click.echo(f"{'URL':<{width}}  {'SIZE':>10}  {'FROM':<10}  REVISION")
    for item in snapshot.app_entries:
        origin = "discovered" if item.url in discovered else "declared"
        if item.kind == "file":
            origin = "static"
        size = human_size(item.size)
        click.echo(f"{item.url:<{width}}  {size:>10}  {origin:<10}  {item.revision}")
    if own:
        click.echo("precached with them (the page client, web app manifest and icons):")
        for item in own:
            size = human_size(item.size)
            click.echo(f"{item.url:<{width}}  {size:>10}  {'extension':<10}  {item.revision}")
    total = sum(item.size for item in snapshot.app_entries)
    click.echo(
        f"{len(snapshot.app_entries):,} entries, {human_size(total)}, version {snapshot.version}"
    )
    excluded = non_pages(PrefixedBundle.of(snapshot, site.settings), site.settings)
    if excluded["prefixes"] or excluded["patterns"]:
        click.echo("page loads that never get the fallback page (not pages):")
        for prefix in excluded["prefixes"]:
            click.echo(f"  under {prefix}")
        for source, flags in excluded["patterns"]:
            click.echo(f"  matching /{source}/{flags}")
    if site.writes is not None:
        click.echo(f"writes queued offline, applied once (answers in {site.writes.store.url}):")
        for rule in site.settings.queue:
            click.echo(
                f"  {', '.join(rule.methods)} under {rule.match} "
                f"(queue {rule.name!r}, kept {rule.max_age:g} s)"
            )


def verify_command() -> click.Command:
    """``verify URL``: check a live deployment from outside (see :mod:`.verify`)."""

    @click.command("verify")
    @click.argument("url")
    @click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
    @click.option(
        "--concurrency",
        type=click.IntRange(min=1),
        default=8,
        show_default=True,
        help="Downloads at a time.",
    )
    @click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=10.0,
        show_default=True,
        help="Seconds per request.",
    )
    @click.option("--sw", default=None, help="The worker's URL, when the start page lacks it.")
    @click.option(
        "--precache", default=None, help="The precache JSON's URL, when the worker lacks it."
    )
    def verify(
        url: str,
        as_json: bool,
        concurrency: int,
        timeout: float,
        sw: str | None,
        precache: str | None,
    ) -> None:
        """Check the deployment at URL (the app's public root) through its CDN and proxies:
        every entry's bytes, the headers that break offline apps, installability.
        Exit status 0 when everything holds, 1 when anything fails."""
        from .verify import Unreachable
        from .verify import verify as run

        if urlsplit(url).scheme not in ("http", "https"):
            raise click.BadParameter(f"{url!r} is not an http(s) URL.", param_hint="URL")
        bar = Bar(sys.stderr, "verifying")
        try:
            report = asyncio.run(
                run(
                    url,
                    sw=sw,
                    precache=precache,
                    concurrency=concurrency,
                    timeout=timeout,
                    progress=bar.advance,
                    total=bar.start,
                )
            )
        except Unreachable as error:
            raise click.UsageError(str(error)) from None
        finally:
            bar.finish()
        if as_json:
            click.echo(json.dumps(report.as_json(), indent=2))
        else:
            _print_problems(report)
        if not report.ok:
            sys.exit(1)

    return verify


def _print_problems(report: Any) -> None:
    rows = [("URL", "EXPECTED", "GOT", "LIKELY CAUSE")]
    rows += [
        (
            problem.url + (" (warning)" if problem.severity != "error" else ""),
            problem.expected,
            problem.got,
            problem.cause,
        )
        for problem in report.problems
    ]
    if len(rows) > 1:
        widths = [min(max(len(row[i]) for row in rows), 48) for i in range(3)]
        for row in rows:
            cells = [row[i].ljust(widths[i]) for i in range(3)]
            click.echo("  ".join([*cells, row[3]]))
    errors = sum(problem.severity == "error" for problem in report.problems)
    version = (report.version or "unknown")[:16]
    click.echo(
        f"{'OK' if report.ok else 'FAILED'}: {report.url}, version {version}, "
        f"{report.entries:,} entries checked, {errors} problem(s), "
        f"{len(report.problems) - errors} warning(s)"
    )
