"""Metric history in SQLite: raw samples, 1-minute and 5-minute rollups, retention.

Writes are batched: `add()` buffers samples in memory and one transaction writes them every
`flush_every` seconds (or when `max_buffer` rows wait), then rolls completed minutes up and,
at most every `purge_every` seconds, enforces retention. Reads merge the unflushed buffer, so
the process that samples sees its newest values at once. The clock is injectable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from backend.inventory.store import Store
from backend.monitoring.catalogue import COLUMNS, METRICS, scope_metrics
from backend.monitoring.records import MetricSample, Statistic
from backend.monitoring.schema import RAW, ROLLUP_1M, ROLLUP_5M

RAW_KEEP = 3600.0  # seconds of raw samples kept
KEEP_1M = 7 * 86400.0
KEEP_5M = 30 * 86400.0
LEVELS = ((60, ROLLUP_1M, KEEP_1M), (300, ROLLUP_5M, KEEP_5M))
Point = tuple[float, float | None]


def _column(metric: str) -> str:
    if metric not in METRICS:  # the only path from user text to an SQL identifier
        raise KeyError(metric)
    return metric


def _aggregate(values: list[tuple[int, float, float, float]], stat: Statistic) -> float | None:
    """Combine (n, avg, max, min) parts; a raw point is (1, v, v, v)."""
    if not values:
        return None
    if stat is Statistic.MAX:
        return max(v[2] for v in values)
    if stat is Statistic.MIN:
        return min(v[3] for v in values)
    weight = sum(v[0] for v in values)
    return sum(v[0] * v[1] for v in values) / weight if weight else None


class History:
    def __init__(
        self, store: Store, clock: Callable[[], float] = time.time, flush_every: float = 5.0,
        purge_every: float = 60.0, max_buffer: int = 2000,
    ) -> None:
        self.store = store
        self.clock = clock
        self.flush_every = flush_every
        self.purge_every = purge_every
        self.max_buffer = max_buffer
        self._buffer: list[MetricSample] = []
        self._last_flush = clock()
        self._last_purge = 0.0
        self.writes = 0  # transactions that wrote samples (for tests and the bench)

    # ---- writing -------------------------------------------------------------------
    def add(self, samples: Iterable[MetricSample]) -> None:
        self._buffer.extend(samples)
        now = self.clock()
        if len(self._buffer) >= self.max_buffer or now - self._last_flush >= self.flush_every:
            self.flush()

    def flush(self) -> int:
        """Write buffered samples in one transaction, then roll up and (when due) purge."""
        rows = [(s.resource, s.t, *(s.values.get(c) for c in COLUMNS)) for s in self._buffer]
        now = self.clock()
        self._last_flush = now
        marks = ", ".join("?" * (len(COLUMNS) + 2))
        with self.store.transaction() as db:
            if rows:
                db.conn.executemany(
                    f"INSERT OR REPLACE INTO {RAW} (resource, t, {', '.join(COLUMNS)})"
                    f" VALUES ({marks})", rows)
                self.writes += 1
            self._buffer.clear()
            self.rollup(now)
            if now - self._last_purge >= self.purge_every:
                self.purge(now)
        return len(rows)

    def _meta(self, key: str) -> float | None:
        row = self.store.execute("SELECT value FROM metric_meta WHERE key = ?", [key]).fetchone()
        return None if row is None else float(row[0])

    def _set_meta(self, key: str, value: float) -> None:
        self.store.execute(
            "INSERT OR REPLACE INTO metric_meta (key, value) VALUES (?, ?)", [key, value])

    def rollup(self, now: float | None = None) -> None:
        """Aggregate completed buckets of raw samples into the 1-minute and 5-minute tables."""
        now = self.clock() if now is None else now
        aggs = ", ".join(f"AVG({c}), MAX({c}), MIN({c})" for c in COLUMNS)
        names = ", ".join(f"{c}_avg, {c}_max, {c}_min" for c in COLUMNS)
        with self.store.transaction() as db:
            for width, table, _keep in LEVELS:
                end = (now // width) * width
                mark = self._meta(f"rollup_{width}")
                if mark is None:
                    first = db.execute(f"SELECT MIN(t) FROM {RAW}").fetchone()[0]
                    start = end if first is None else (first // width) * width
                else:
                    start = mark - width  # redo the last bucket: idempotent, catches stragglers
                if start < end:
                    db.execute(
                        f"INSERT OR REPLACE INTO {table} (resource, t, n, {names}) "
                        f"SELECT resource, CAST(t / {width} AS INTEGER) * {width} AS b, COUNT(*),"
                        f" {aggs} FROM {RAW} WHERE t >= ? AND t < ? GROUP BY resource, b",
                        [start, end])
                if mark is None or end > mark:
                    self._set_meta(f"rollup_{width}", end)

    def purge(self, now: float | None = None) -> None:
        """Drop raw samples older than an hour (once rolled up) and rollups past their keep."""
        now = self.clock() if now is None else now
        self._last_purge = now
        marks = [m for w, _t, _k in LEVELS if (m := self._meta(f"rollup_{w}")) is not None]
        raw_cut = min([now - RAW_KEEP, *marks])
        with self.store.transaction() as db:
            db.execute(f"DELETE FROM {RAW} WHERE t < ?", [raw_cut])
            for _width, table, keep in LEVELS:
                db.execute(f"DELETE FROM {table} WHERE t < ?", [now - keep])

    def close(self) -> None:
        if self._buffer:
            self.flush()

    # ---- reading -------------------------------------------------------------------
    def raw(self, resource: str, metric: str, t0: float, t1: float | None = None) -> list[Point]:
        """Raw (t, value) samples in [t0, t1), oldest first, unflushed ones included."""
        col = _column(metric)
        t1 = float("inf") if t1 is None else t1
        points: list[Point] = [
            (r[0], r[1]) for r in self.store.execute(
                f"SELECT t, {col} FROM {RAW} WHERE resource = ? AND t >= ? AND t < ? ORDER BY t",
                [resource, t0, t1])
        ]
        points += [(s.t, s.values.get(metric)) for s in self._buffer
                   if s.resource == resource and t0 <= s.t < t1]
        return points

    def series(
        self, resource: str, metric: str, since: float, step: float | None = None,
        stat: Statistic = Statistic.AVG, until: float | None = None,
    ) -> list[Point]:
        """(bucket start, value) over the last `since` seconds, `step` seconds per bucket.

        Reads raw samples while they cover the window and the step is under a minute,
        otherwise the 1-minute or 5-minute rollups (plus raw samples not rolled up yet).
        Buckets without samples are left out; a bucket whose samples are all n/a is None.
        """
        col = _column(metric)
        now = self.clock()
        t1 = now if until is None else until
        t0 = t1 - since
        t1 += 1e-6  # a sample taken at this very instant belongs to the window
        step = max(1.0, float(step) if step else since / 300)
        parts: list[tuple[float, tuple[int, float, float, float] | None]] = []
        if t0 >= now - RAW_KEEP and step < 60:
            parts += [(t, None if v is None else (1, v, v, v))
                      for t, v in self.raw(resource, metric, t0, t1)]
        else:
            width, table, _keep = LEVELS[0] if t0 >= now - KEEP_1M and step < 300 else LEVELS[1]
            step = max(step, float(width))
            mark = self._meta(f"rollup_{width}") or t0
            for t, n, avg, hi, lo in self.store.execute(
                f"SELECT t, n, {col}_avg, {col}_max, {col}_min FROM {table} WHERE resource = ?"
                " AND t >= ? AND t < ? ORDER BY t", [resource, (t0 // width) * width,
                                                     min(t1, mark)]):
                parts.append((t, None if avg is None else (n, avg, hi, lo)))
            parts += [(t, None if v is None else (1, v, v, v))
                      for t, v in self.raw(resource, metric, max(t0, mark), t1)]
        buckets: dict[float, list[tuple[int, float, float, float]]] = {}
        for t, part in parts:
            bucket = buckets.setdefault((t // step) * step, [])
            if part is not None:
                bucket.append(part)
        return [(t, _aggregate(buckets[t], stat)) for t in sorted(buckets)]

    def latest(self, max_age: float) -> dict[str, MetricSample]:
        """The newest sample of each resource no older than `max_age` seconds."""
        found: dict[str, MetricSample] = {}
        cur = self.store.execute(
            f"SELECT resource, t, {', '.join(COLUMNS)} FROM {RAW} WHERE t >= ? ORDER BY t",
            [self.clock() - max_age])
        for row in cur:
            names = scope_metrics(row[0])
            values = dict(zip(COLUMNS, row[2:], strict=True))
            found[row[0]] = MetricSample(row[0], row[1], {m: values[m] for m in names})
        for sample in self._buffer:
            if sample.t >= self.clock() - max_age:
                found[sample.resource] = sample
        return found

    def counts(self) -> dict[str, int]:
        out: dict[str, Any] = {}
        for table in (RAW, ROLLUP_1M, ROLLUP_5M):
            out[table] = self.store.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        out["buffered"] = len(self._buffer)
        return out
