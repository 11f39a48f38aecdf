"""``quart --app APP appcache build|show|verify``: the shared commands on the app's CLI."""

from __future__ import annotations

from quart.cli import AppGroup

from ..cli import output_option, run_build, run_show, traceback_option, verify_command
from ..site import Site

__all__ = ["cli_group"]


def cli_group(site: Site) -> AppGroup:
    """The ``appcache`` command group of one app."""
    group = AppGroup("appcache", help="Build or inspect the offline bundle (quart_appcache).")

    @group.command("build")
    @output_option
    @traceback_option
    def build(output: str | None, show_traceback: bool) -> None:
        """Compute the bundle once and write every artifact for deployment."""
        run_build(site, output, show_traceback)

    @group.command("show")
    @traceback_option
    def show(show_traceback: bool) -> None:
        """List the tracked URLs with their sizes and revisions, and the version."""
        run_show(site, show_traceback)

    group.add_command(verify_command())
    return group
