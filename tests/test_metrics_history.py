"""Metric history on a real SQLite file with an injected clock: batching, rollups, retention."""

from __future__ import annotations

import sqlite3

import pytest

from backend import Cloud
from backend.monitoring.history import History
from backend.monitoring.records import MetricSample, Statistic

T0 = 1_800_000_000.0  # a multiple of 300: minute and 5-minute buckets start here


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def sample(resource: str, t: float, **values: float | None) -> MetricSample:
    return MetricSample(resource, t, dict(values))


def feed(history: History, clock: Clock, seconds: int) -> None:
    """One sample a second for `seconds`: cpu_util cycles 0..59 each minute, mem_util n/a."""
    for i in range(seconds):
        clock.t = T0 + i
        history.add([
            sample("i-a", T0 + i, cpu_util=float(i % 60), mem_util=None,
                   disk_write_bytes_rate=float(i)),
            sample("host", T0 + i, host_cpu_util=50.0),
        ])


def rows(cloud: Cloud, table: str, resource: str = "i-a") -> list[dict[str, float]]:
    return cloud.store.rows(f"SELECT * FROM {table} WHERE resource = ? ORDER BY t", [resource])


def test_batched_writes_and_rollups(bare_cloud: Cloud) -> None:
    clock = Clock(T0)
    history = History(bare_cloud.store, clock, flush_every=5.0)
    feed(history, clock, 600)
    clock.t = T0 + 600
    history.flush()
    # 1200 samples in 10 minutes went to SQLite in one transaction per 5 s, not per sample
    assert 100 <= history.writes <= 121
    minute = rows(bare_cloud, "metric_1m")
    assert [r["t"] for r in minute] == [T0 + 60 * k for k in range(10)]
    for k, r in enumerate(minute):
        assert r["n"] == 60
        assert r["cpu_util_avg"] == pytest.approx(29.5)
        assert (r["cpu_util_max"], r["cpu_util_min"]) == (59.0, 0.0)
        assert r["mem_util_avg"] is None  # n/a stays n/a through the rollup
        assert r["disk_write_bytes_rate_avg"] == pytest.approx(60 * k + 29.5)
    five = rows(bare_cloud, "metric_5m")
    assert [(r["t"], r["n"]) for r in five] == [(T0, 300), (T0 + 300, 300)]
    assert five[1]["disk_write_bytes_rate_max"] == 599.0
    assert rows(bare_cloud, "metric_1m", "host")[0]["host_cpu_util_avg"] == 50.0

    # the file on disk holds them (a second connection, not the Store's)
    with sqlite3.connect(bare_cloud.paths.db) as other:
        assert other.execute("SELECT COUNT(*) FROM metric_raw").fetchone()[0] == 1200

    # series: raw for short steps, rollups for coarse ones
    assert len(history.series("i-a", "cpu_util", since=120, step=1)) == 120
    by_minute = history.series("i-a", "cpu_util", since=600, step=60)
    assert [v for _t, v in by_minute] == [pytest.approx(29.5)] * 10
    assert history.series("i-a", "cpu_util", 600, 300, Statistic.MAX) == [(T0, 59.0),
                                                                           (T0 + 300, 59.0)]
    assert [v for _t, v in history.series("i-a", "mem_util", 600, 60)] == [None] * 10


def test_unflushed_samples_are_visible_to_the_sampling_process(bare_cloud: Cloud) -> None:
    clock = Clock(T0)
    history = History(bare_cloud.store, clock, flush_every=3600.0)
    feed(history, clock, 30)
    assert history.counts()["metric_raw"] == 0 and history.counts()["buffered"] == 60
    assert len(history.series("i-a", "cpu_util", since=60, step=1)) == 30
    assert history.latest(5)["i-a"].values["cpu_util"] == 29.0
    history.close()
    assert history.counts() == {"metric_raw": 60, "metric_1m": 0, "metric_5m": 0,
                                "buffered": 0}
    host = history.latest(5)["host"]  # from SQLite now: every host metric, n/a as None
    assert host.values["host_cpu_util"] == 50.0 and host.values["host_load_1m"] is None
    assert "cpu_util" not in host.values


def test_retention_rolls_up_before_it_purges(bare_cloud: Cloud) -> None:
    clock = Clock(T0)
    history = History(bare_cloud.store, clock, flush_every=1e9, max_buffer=10**6)
    feed(history, clock, 600)
    clock.t = T0 + 600 + 7200  # two hours later, nothing flushed meanwhile
    history.flush()
    assert rows(bare_cloud, "metric_raw") == []  # raw keeps one hour
    assert len(rows(bare_cloud, "metric_1m")) == 10  # ... but was rolled up first
    assert len(rows(bare_cloud, "metric_5m")) == 2
    # a 3-hour window reads the 1-minute rollups
    old = history.series("i-a", "cpu_util", since=3 * 3600, step=60)
    assert [t for t, _v in old] == [T0 + 60 * k for k in range(10)]
    assert history.series("i-a", "cpu_util", 3 * 3600, 60, Statistic.MIN)[0][1] == 0.0

    clock.t = T0 + 8 * 86400  # 1-minute rollups keep 7 days, 5-minute ones 30
    history.purge()
    assert rows(bare_cloud, "metric_1m") == [] and len(rows(bare_cloud, "metric_5m")) == 2
    week = history.series("i-a", "cpu_util", since=9 * 86400, step=300)
    assert [v for _t, v in week] == [pytest.approx(29.5)] * 2
    clock.t = T0 + 31 * 86400
    history.purge()
    assert history.counts()["metric_5m"] == 0


def test_rollup_catches_up_and_is_idempotent(bare_cloud: Cloud) -> None:
    clock = Clock(T0)
    history = History(bare_cloud.store, clock, flush_every=1.0)
    feed(history, clock, 90)  # flushed every second, rolled up as minutes complete
    clock.t = T0 + 200
    history.flush()
    history.rollup()
    history.rollup()
    minute = rows(bare_cloud, "metric_1m")
    assert [(r["t"], r["n"]) for r in minute] == [(T0, 60), (T0 + 60, 30)]
