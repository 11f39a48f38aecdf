"""Run the benchmark suite: ``python -m benchmarks [--smoke] [--only NAME ...]``.

Builds the trees from a seeded generator (in ``benchmarks/.data``), runs every
scenario side by side with its peers, alternating, for several rounds, prints
a Markdown table of medians with min–max and ratios, and writes the same as
JSON. Exits non-zero when a target is missed (never in smoke mode).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from benchmarks.measure import table
from benchmarks.scenarios import SCENARIOS, Context

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--smoke", action="store_true", help="tiny trees, one round, no thresholds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), default=None)
    parser.add_argument("--data", type=Path, default=HERE / ".data")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "latest.json")
    args = parser.parse_args()

    rounds = args.rounds or (1 if args.smoke else 11)
    ctx = Context(args.data / ("smoke" if args.smoke else "full"), rounds, args.smoke)
    rows = []
    started = time.perf_counter()
    for name in args.only or list(SCENARIOS):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(SCENARIOS[name](ctx))
    print(table(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "smoke": args.smoke,
                "rounds": rounds,
                "seconds": time.perf_counter() - started,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "rows": [row.as_dict() for row in rows],
            },
            indent=2,
        )
    )
    missed = [row for row in rows if row.met is False]
    for row in missed:
        print(f"missed: {row.scenario} / {row.measure}: {row.target}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
