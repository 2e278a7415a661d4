"""Text sparklines (`▁▂▃▅▇`) and the number formats of the Metrics pane (pure, no Textual).

A sparkline here is a string, so a fleet of instances fits in one virtual table: one cell
per instance, drawn with the table's own line rendering and filtered like any other cell.
"""

from __future__ import annotations

from collections.abc import Sequence

BARS = "▁▂▃▄▅▆▇█"
Point = tuple[float, float | None]


def resample(points: Sequence[Point], t0: float, t1: float, width: int) -> list[float | None]:
    """Average the points in [t0, t1) into `width` equal buckets; None where a bucket is empty
    (or holds only n/a values)."""
    if width <= 0 or t1 <= t0:
        return []
    sums = [0.0] * width
    counts = [0] * width
    span = (t1 - t0) / width
    for t, value in points:
        if value is None or not t0 <= t < t1:
            continue
        index = min(width - 1, int((t - t0) / span))
        sums[index] += value
        counts[index] += 1
    return [s / n if n else None for s, n in zip(sums, counts, strict=True)]


def spark(values: Sequence[float | None], top: float | None = None) -> str:
    """One bar per value, scaled to `top` (default: the largest value); gaps are spaces."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    ceiling = top if top is not None else max(known)
    out = []
    for value in values:
        if value is None:
            out.append(" ")
        elif ceiling <= 0:
            out.append(BARS[0])
        else:
            level = round((len(BARS) - 1) * min(max(value, 0.0), ceiling) / ceiling)
            out.append(BARS[level])
    return "".join(out)


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def rate(value: float | None) -> str:
    """Bytes per second, short: `0 B/s`, `12.3K/s`, `4.0M/s`."""
    if value is None:
        return "n/a"
    for unit in ("B", "K", "M", "G"):
        if abs(value) < 1024 or unit == "G":
            return f"{value:.0f} B/s" if unit == "B" else f"{value:.1f}{unit}/s"
        value /= 1024
    return f"{value:.1f}G/s"


def byte_size(value: float | None) -> str:
    if value is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def byte_unit(peak: float) -> tuple[float, str]:
    """(divisor, label) that keeps a bytes-per-second axis under four digits."""
    for divisor, label in ((1024.0**3, "GiB/s"), (1024.0**2, "MiB/s"), (1024.0, "KiB/s")):
        if peak >= divisor:
            return divisor, label
    return 1.0, "B/s"
