"""``python -m quart_appcache.starlette``: see :mod:`quart_appcache.starlette.cli`."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="python -m quart_appcache.starlette")
