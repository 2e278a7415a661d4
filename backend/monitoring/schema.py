"""Schema of the monitoring tables (step 2 in backend/inventory/migrations.py).

Wide tables: one row per resource and instant, one column per metric, so sampling 50
instances writes 50 short rows a second, not 450 narrow ones. Rollups keep avg/max/min per
metric and the sample count `n`. Every statement is IF NOT EXISTS, so the step is safe
whichever position it takes among the other helpers' migrations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


from backend.monitoring.catalogue import COLUMNS

RAW, ROLLUP_1M, ROLLUP_5M = "metric_raw", "metric_1m", "metric_5m"


def _raw_sql() -> str:
    cols = ", ".join(f"{c} REAL" for c in COLUMNS)
    return (f"CREATE TABLE IF NOT EXISTS {RAW} (resource TEXT NOT NULL, t REAL NOT NULL, "
            f"{cols}, PRIMARY KEY (resource, t)) WITHOUT ROWID")


def _rollup_sql(table: str) -> str:
    cols = ", ".join(f"{c}_{s} REAL" for c in COLUMNS for s in ("avg", "max", "min"))
    return (f"CREATE TABLE IF NOT EXISTS {table} (resource TEXT NOT NULL, t REAL NOT NULL, "
            f"n INTEGER NOT NULL, {cols}, PRIMARY KEY (resource, t)) WITHOUT ROWID")


def step2(db: sqlite_utils.Database) -> None:
    db.execute(_raw_sql())
    for table in (ROLLUP_1M, ROLLUP_5M):
        db.execute(_rollup_sql(table))
    for table in (RAW, ROLLUP_1M, ROLLUP_5M):
        db.execute(f"CREATE INDEX IF NOT EXISTS {table}_t ON {table} (t)")
    db.execute("CREATE TABLE IF NOT EXISTS metric_meta (key TEXT PRIMARY KEY, value REAL)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS alarms ("
        " id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, resource TEXT NOT NULL,"
        " metric TEXT NOT NULL, statistic TEXT NOT NULL, comparison TEXT NOT NULL,"
        " threshold REAL NOT NULL, period REAL NOT NULL, periods INTEGER NOT NULL,"
        " suppression REAL NOT NULL DEFAULT 0, state TEXT NOT NULL, reason TEXT NOT NULL"
        " DEFAULT '', state_changed_at REAL NOT NULL, created_at REAL NOT NULL,"
        " last_value REAL, last_notified_at REAL)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS alarms_resource ON alarms (resource)")
