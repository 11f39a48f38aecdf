"""``python -m quart_appcache``: ``verify URL``, and where the other commands are.

``verify`` reads a deployment from outside and needs no app. The ``build``
and ``show`` commands need the app, so they run through each framework's own
command line; the help names both.
"""

from __future__ import annotations

import sys

HELP = """\
quart_appcache: offline bundles for Quart, Starlette and FastAPI apps.

Check a deployment from outside, through its CDN and proxies (no app code):

  python -m quart_appcache verify URL [--json] [--concurrency N] [--timeout S]

Build or inspect an app's offline bundle with its framework's command line:

  Quart               quart --app MODULE:APP appcache build [-o DIR]
                      quart --app MODULE:APP appcache show
  Starlette, FastAPI  python -m quart_appcache.starlette build MODULE:APP [--factory] [-o DIR]
                      python -m quart_appcache.starlette show MODULE:APP [--factory]

Add --help to any of them for its options.
"""


def main(argv: list[str] | None = None) -> int:
    """Run ``verify``, or print the help; exit status 0, 1 (verify failed) or 2."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "verify":
        try:
            from .cli import verify_command
        except ImportError as error:
            sys.stderr.write(f"verify needs {error.name}: pip install 'quart-appcache[verify]'\n")
            return 2
        # (click exits itself: 0, 1 when verify failed, 2 for a usage error.)
        verify_command().main(args[1:], prog_name="python -m quart_appcache verify")
        return 0
    if args and args[0] not in ("-h", "--help", "help"):
        sys.stderr.write(f"Unknown command {args[0]!r}.\n\n{HELP}")
        return 2
    sys.stdout.write(HELP)
    return 0


if __name__ == "__main__":
    sys.exit(main())
