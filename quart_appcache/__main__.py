"""``python -m quart_appcache``: says where the commands are.

The ``build`` and ``show`` commands need the app, so they run through each
framework's own command line; this entry point names both.
"""

from __future__ import annotations

import sys

HELP = """\
quart_appcache: offline bundles for Quart, Starlette and FastAPI apps.

Build or inspect an app's offline bundle with its framework's command line:

  Quart               quart --app MODULE:APP appcache build [-o DIR]
                      quart --app MODULE:APP appcache show
  Starlette, FastAPI  python -m quart_appcache.starlette build MODULE:APP [--factory] [-o DIR]
                      python -m quart_appcache.starlette show MODULE:APP [--factory]

Add --help to either for its options.
"""


def main(argv: list[str] | None = None) -> int:
    """Print the help; exit status 0, or 2 for arguments it does not take."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] not in ("-h", "--help", "help"):
        sys.stderr.write(f"Unknown command {args[0]!r}.\n\n{HELP}")
        return 2
    sys.stdout.write(HELP)
    return 0


if __name__ == "__main__":
    sys.exit(main())
