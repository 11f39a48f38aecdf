"""``python -m quart_appcache.starlette build|show APP`` and ``verify URL``.

``APP`` is given as uvicorn takes it: ``module:attribute`` (dotted
attributes allowed), with ``--factory`` when the attribute is a function that
builds the app. The working directory is importable, as under uvicorn.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click
from starlette.applications import Starlette

from ..cli import output_option, run_build, run_show, traceback_option, verify_command
from ..errors import AppcacheError
from ..site import Site
from .extension import get_appcache

__all__ = ["load_app", "main"]


def load_app(target: str, *, factory: bool = False) -> Starlette:
    """Import ``module:attribute`` (calling it when ``factory``) and check it is an app.

    Raises:
        click.BadParameter: (exit status 2) ``target`` is not ``module:attribute``.
        click.ClickException: (exit status 1) it cannot be imported, found or
            called, or is not a Starlette (or FastAPI) app.
    """
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise click.BadParameter(
            f"{target!r} is not of the form 'module:attribute', like 'main:app'.",
            param_hint="APP",
        )
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        if error.name != module_name:
            raise  # the module exists but failed to import something itself
        raise click.ClickException(
            f"Cannot import {module_name!r}: {error}. Run from the folder that holds it."
        ) from None
    found: Any = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise click.ClickException(f"{module_name!r} has no attribute {attribute!r}.")
        found = getattr(found, part)
    if factory:
        if not callable(found):
            raise click.ClickException(f"{target!r} is not callable, so not a factory.")
        found = found()
    if not isinstance(found, Starlette):
        hint = " (is it a factory? add --factory)" if callable(found) else ""
        raise click.ClickException(
            f"{target!r} is {type(found).__name__}, not a Starlette or FastAPI app{hint}."
        )
    return found


def _site(target: str, factory: bool) -> tuple[Starlette, Site]:
    app = load_app(target, factory=factory)
    try:
        return app, get_appcache(app).site(app)
    except AppcacheError as error:
        raise click.ClickException(str(error)) from None


app_argument = click.argument("app_target", metavar="APP")
factory_option = click.option(
    "--factory", is_flag=True, default=False, help="APP is a function that returns the app."
)


@click.group(help="Build or inspect the offline bundle of a Starlette or FastAPI app.")
def main() -> None:
    """The command group."""


@main.command("build")
@app_argument
@factory_option
@output_option
@traceback_option
def build(app_target: str, factory: bool, output: str | None, show_traceback: bool) -> None:
    """Compute the bundle once and write every artifact for deployment."""
    _app, site = _site(app_target, factory)
    run_build(site, output, show_traceback)


@main.command("show")
@app_argument
@factory_option
@traceback_option
def show(app_target: str, factory: bool, show_traceback: bool) -> None:
    """List the tracked URLs with their sizes and revisions, and the version."""
    _app, site = _site(app_target, factory)
    run_show(site, show_traceback)


main.add_command(verify_command())
