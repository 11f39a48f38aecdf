"""Timing helpers and the result table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Series:
    """Repeated measurements of one thing, in one unit."""

    label: str
    unit: str
    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def describe(self) -> str:
        scale, unit = (1000.0, "ms") if self.unit == "s" else (1.0, self.unit)
        if len(self.values) == 1:
            return f"{self.values[0] * scale:,.1f} {unit}"
        lo, hi = min(self.values) * scale, max(self.values) * scale
        return f"{self.median * scale:,.1f} {unit} ({lo:,.1f}–{hi:,.1f})"


@dataclass
class Row:
    """One line of the report: a measure, its peers, the ratio and the target."""

    scenario: str
    measure: str
    ours: Series
    peer: Series | None
    ratio: float | None
    target: str
    met: bool | None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ours"]["median"] = self.ours.median
        if self.peer is not None:
            data["peer"]["median"] = self.peer.median
        return data


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| scenario | measure | quart_appcache median (min–max) | compared with | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        peer = f"{row.peer.label}: {row.peer.describe()}" if row.peer else "—"
        ratio = f"{row.ratio:.2f}×" if row.ratio is not None else "—"
        met = {True: "yes", False: "**no**", None: "—"}[row.met]
        lines.append(
            f"| {row.scenario} | {row.measure} | {row.ours.describe()} | {peer} | {ratio} | {row.target} | {met} |"
        )
    return "\n".join(lines)
