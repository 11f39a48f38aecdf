"""Peak RSS growth of one cold hash(), measured in a fresh process.

Usage: python -m benchmarks.rss_probe ROOT  -> prints the growth in MiB.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from benchmarks.apps import quart_app


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])  # kB
    raise RuntimeError(field)


def main() -> None:
    root = Path(sys.argv[1])
    _app, appcache = quart_app(root)

    async def run() -> None:
        await asyncio.sleep(0)  # the loop and its executor exist before we measure
        before = _status("VmRSS")
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # reset the peak (VmHWM) to the current RSS
        await appcache.hash()
        print((_status("VmHWM") - before) / 1024)

    asyncio.run(run())


if __name__ == "__main__":
    main()
