"""``quart appcache build`` and ``quart appcache show``.

Both run the app's own startup (so views that need a database work), compute
the bundle strictly, and shut the app down again. Errors of the extension's
kind exit non-zero with their message and no traceback.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Coroutine
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click
from quart.cli import AppGroup

from .build import write_build
from .bundle import Snapshot
from .errors import AppcacheError

if TYPE_CHECKING:
    from .site import Site

__all__ = ["ProgressBar", "appcache_cli", "human_size"]

T = TypeVar("T")


def human_size(size: int) -> str:
    """``1234567`` -> ``1.2 MB``."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


class ProgressBar:
    """A one-line progress bar, drawn only when ``stream`` is a terminal."""

    WIDTH = 30

    def __init__(self, stream: IO[str], label: str) -> None:
        self.stream = stream
        self.label = label
        self.enabled = stream.isatty()
        self.total = 0
        self.done = 0
        self._drawn = -1

    def start(self, total: int) -> None:
        """Set the number of entries and draw the empty bar."""
        self.total = total
        self._draw()

    def advance(self, count: int) -> None:
        """Count entries done and redraw when the bar moved."""
        self.done += count
        self._draw()

    def finish(self) -> None:
        """End the bar's line."""
        if self.enabled and self._drawn >= 0:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        if not self.enabled:
            return
        filled = self.WIDTH * self.done // self.total if self.total else self.WIDTH
        if filled == self._drawn and self.done < self.total:
            return
        self._drawn = filled
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {self.done:,}/{self.total:,}")
        self.stream.flush()


async def _computed(site: Site, progress: ProgressBar | None) -> Snapshot:
    app = site.app
    site.cli_mode = True
    try:
        await app.startup()
        try:
            return await site.finalize(progress=progress)
        finally:
            if progress is not None:
                progress.finish()
            await app.shutdown()
    finally:
        site.cli_mode = False


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except AppcacheError as error:
        raise click.ClickException(str(error)) from None


def appcache_cli(site: Site) -> AppGroup:
    """The ``appcache`` command group for one app."""
    group = AppGroup("appcache", help="Build or inspect the offline bundle (quart_appcache).")

    @group.command("build")
    @click.option(
        "--output",
        "-o",
        type=click.Path(file_okay=False),
        default=None,
        help="Folder to write to (default: APPCACHE_BUILD_DIR).",
    )
    def build(output: str | None) -> None:
        """Compute the bundle once and write every artifact for deployment."""
        folder = output or site.build_dir
        started = time.perf_counter()
        progress = ProgressBar(sys.stderr, "hashing")

        snapshot = _run(_computed(site, progress))
        artifacts: dict[str, bytes] = {
            name: artifact.body for name, artifact in (site.frozen or {}).items()
        }
        try:
            write_build(folder, snapshot, artifacts)  # no event loop runs here any more
        except AppcacheError as error:
            raise click.ClickException(str(error)) from None
        total = sum(item.size for item in snapshot.revisions)
        click.echo(
            f"Built {len(snapshot.revisions):,} entries ({human_size(total)}), "
            f"version {snapshot.version[:16]}, in {time.perf_counter() - started:.2f} s "
            f"into {folder}"
        )

    @group.command("show")
    def show() -> None:
        """List the tracked URLs with their sizes and revisions, and the version."""
        snapshot = _run(_computed(site, None))
        width = max([len("URL"), *(len(item.url) for item in snapshot.revisions)])
        click.echo(f"{'URL':<{width}}  {'SIZE':>10}  REVISION")
        for item in snapshot.revisions:
            click.echo(f"{item.url:<{width}}  {human_size(item.size):>10}  {item.revision}")
        total = sum(item.size for item in snapshot.revisions)
        click.echo(
            f"{len(snapshot.revisions):,} entries, {human_size(total)}, version {snapshot.version}"
        )

    return group
