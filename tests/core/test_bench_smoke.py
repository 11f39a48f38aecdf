"""The benchmark suite in smoke mode, so it never rots (no thresholds here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.server
def test_benchmarks_run_in_smoke_mode(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--smoke",
            "--data",
            str(tmp_path / "data"),
            "--json",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    measures = {(row["scenario"], row["measure"].split(",")[0]) for row in report["rows"]}
    for scenario in (
        "many",
        "big",
        "big, while hashing",
        "views",
        "views, Starlette",
        "renders",
        "debug, unchanged many",
        "sizes, many",
        "startup, many",
        "preload",
        "workers, 20 files",
        "queue, per request",
    ):
        assert any(name == scenario for name, _ in measures), scenario
    assert {"serve, uvicorn", "serve, hypercorn", "load, uvicorn"} <= {
        row["scenario"] for row in report["rows"]
    }
    for row in report["rows"]:
        assert row["ours"]["values"], row
        assert all(value > 0 for value in row["ours"]["values"]), row
    assert "| many | cold hash() |" in done.stdout
    # Server logs go under --data, never into the checkout.
    assert not list(REPO.glob("*.log"))
    assert list((tmp_path / "data").glob("*/logs/server-*.log"))
