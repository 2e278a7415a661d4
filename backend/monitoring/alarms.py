"""Alarm rules (Cloud Eye analog) and their evaluation after each sampler tick.

A rule watches one metric of one resource (an instance, or "host"): the `statistic`
(avg/max/min) of the samples in each of the last `periods` sliding windows of `period`
seconds is compared with `threshold`. All windows breaching -> ALARM; the newest window
not breaching -> OK; no data in the newest window (or a breach without data for every
window) -> INSUFFICIENT_DATA. A state change updates the rule, writes an audit event
(`alarm.state-change`) and is handed to subscribers; while in ALARM with `suppression` > 0
a reminder (AlarmChange.repeat) goes to subscribers every `suppression` seconds.
"""

from __future__ import annotations

import builtins
import json
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from backend.inventory import validate
from backend.inventory.audit import Audit
from backend.inventory.errors import ConflictError, NotFoundError, ValidationError
from backend.inventory.ids import new_id
from backend.inventory.journal import Journal, journaled_sync
from backend.inventory.store import Store
from backend.monitoring.catalogue import HOST, metric, parse_duration
from backend.monitoring.history import RAW_KEEP, History
from backend.monitoring.records import Alarm, AlarmChange, AlarmState, Comparison, Statistic

Listener = Callable[[AlarmChange], None]
_COMPARISONS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", ">": ">", ">=": ">=",
                "<": "<", "<=": "<="}


def breaches(comparison: Comparison, value: float, threshold: float) -> bool:
    if comparison is Comparison.GT:
        return value > threshold
    if comparison is Comparison.GE:
        return value >= threshold
    if comparison is Comparison.LT:
        return value < threshold
    return value <= threshold


def _stat(values: list[float], stat: Statistic) -> float | None:
    if not values:
        return None
    if stat is Statistic.MAX:
        return max(values)
    if stat is Statistic.MIN:
        return min(values)
    return sum(values) / len(values)


def _from_row(r: dict[str, Any]) -> Alarm:
    return Alarm(
        id=r["id"], name=r["name"], resource=r["resource"], metric=r["metric"],
        statistic=Statistic(r["statistic"]), comparison=Comparison(r["comparison"]),
        threshold=r["threshold"], period=r["period"], periods=r["periods"],
        suppression=r["suppression"], state=AlarmState(r["state"]), reason=r["reason"],
        state_changed_at=r["state_changed_at"], created_at=r["created_at"],
        last_value=r["last_value"], last_notified_at=r["last_notified_at"])


class Alarms:
    def __init__(self, store: Store, audit: Audit, history: History, journal: Journal,
                 clock: Callable[[], float] = time.time) -> None:
        self.journal = journal
        self.store = store
        self.audit = audit
        self.history = history
        self.clock = clock
        self.recent: deque[AlarmChange] = deque(maxlen=200)  # this process's changes
        self._listeners: list[Listener] = []
        self._values: dict[str, float | None] = {}  # newest evaluated value per alarm
        self._seen: int | None = None  # following: the newest event id looked at

    # ---- rules ---------------------------------------------------------------------
    def _resource(self, ref: str) -> str:
        if ref == HOST:
            return HOST
        row = self.store.row("SELECT id FROM instances WHERE id = ? OR name = ?", [ref, ref])
        if row is None:
            raise NotFoundError(f"instance {ref!r} not found (or use 'host')")
        return str(row["id"])

    @journaled_sync("alarm.create")
    def create(
        self, name: str, resource: str, metric_name: str, comparison: str, threshold: float | str,
        period: float | str = 60, periods: int | str = 1, statistic: str = "avg",
        suppression: float | str = 0,
    ) -> Alarm:
        params = {"name": name, "resource": resource, "metric": metric_name,
                  "comparison": comparison, "threshold": threshold, "period": period,
                  "periods": periods, "statistic": statistic, "suppression": suppression}
        with self.audit.track("alarm.create", name, params) as track:
            validate.name(name, "alarm name")
            resource_id = self._resource(resource)
            info = metric(metric_name, resource_id)
            if comparison not in _COMPARISONS:
                raise ValidationError(
                    f"bad comparison {comparison!r}: use >, >=, <, <= (or gt, ge, lt, le)")
            if statistic not in {s.value for s in Statistic}:
                raise ValidationError(f"bad statistic {statistic!r}: use avg, max or min")
            try:
                limit = float(threshold)
            except (TypeError, ValueError):
                raise ValidationError(f"bad threshold {threshold!r}: expected a number") from None
            if not math.isfinite(limit) or limit < 0 or (info.percent and limit > 100):
                top = "100 (a percentage)" if info.percent else "a finite number"
                raise ValidationError(f"bad threshold {threshold!r}: must be 0 to {top}")
            seconds = parse_duration(period, "period", maximum=RAW_KEEP)
            try:
                count = int(periods)
            except (TypeError, ValueError):
                raise ValidationError(f"bad periods {periods!r}: expected 1 to 20") from None
            if not 1 <= count <= 20:
                raise ValidationError(f"bad periods {periods!r}: expected 1 to 20")
            if seconds * count > RAW_KEEP:
                raise ValidationError(
                    f"period x periods is {seconds * count:g}s; at most {RAW_KEEP:g}s (1 h)")
            quiet = 0.0 if str(suppression) in {"0", "0.0", "0s"} else parse_duration(
                suppression, "suppression", maximum=86400)
            if self.store.row("SELECT id FROM alarms WHERE name = ?", [name]):
                raise ConflictError(f"an alarm named {name!r} exists already")
            now = self.clock()
            alarm_id = new_id("al")
            row: dict[str, Any] = {
                "id": alarm_id, "name": name, "resource": resource_id,
                "metric": info.name, "statistic": statistic,
                "comparison": _COMPARISONS[comparison], "threshold": limit, "period": seconds,
                "periods": count, "suppression": quiet,
                "state": AlarmState.INSUFFICIENT_DATA.value,
                "reason": "created; not evaluated yet", "state_changed_at": now,
                "created_at": now, "last_value": None, "last_notified_at": None,
            }
            track.resource = alarm_id
            with self.store.transaction() as db:
                db.table("alarms").insert(row)
        return _from_row(row)

    def list(self, resource: str | None = None) -> list[Alarm]:
        sql, params = "SELECT * FROM alarms", []
        if resource:
            sql += " WHERE resource = ?"
            params.append(self._resource(resource))
        found = [_from_row(r) for r in self.store.rows(sql + " ORDER BY name", params)]
        for alarm in found:
            if alarm.id in self._values:
                alarm.last_value = self._values[alarm.id]
        return found

    def get(self, ref: str) -> Alarm:
        row = self.store.row("SELECT * FROM alarms WHERE id = ? OR name = ?", [ref, ref])
        if row is None:
            raise NotFoundError(f"alarm {ref!r} not found")
        return _from_row(row)

    @journaled_sync("alarm.delete")
    def delete(self, ref: str) -> Alarm:
        with self.audit.track("alarm.delete", ref, {"alarm": ref}) as track:
            alarm = self.get(ref)
            track.resource = alarm.id
            track.parameters["name"] = alarm.name
            with self.store.transaction() as db:
                db.execute("DELETE FROM alarms WHERE id = ?", [alarm.id])
        self._values.pop(alarm.id, None)
        return alarm

    # ---- notifications -------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(change)` on every state change; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self, change: AlarmChange) -> None:
        self.recent.append(change)
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:  # a broken listener must not stop the sampler
                pass

    # ---- evaluation ----------------------------------------------------------------
    def judge(self, alarm: Alarm, now: float) -> tuple[AlarmState, float | None, str]:
        """The state the rule is in at `now`, the newest window's value and why."""
        span = alarm.period
        points = self.history.raw(alarm.resource, alarm.metric, now - alarm.periods * span,
                                  now + 1e-6)
        windows: list[list[float]] = [[] for _ in range(alarm.periods)]
        for t, value in points:  # window i holds (now - (i+1)*period, now - i*period]
            index = max(0, int((now - t) // span))
            if value is not None and index < alarm.periods:
                windows[index].append(value)
        stats = [_stat(w, alarm.statistic) for w in windows]
        newest = stats[0]
        what = f"{alarm.statistic.value}({alarm.metric}) over {span:g}s"
        if newest is None:
            return AlarmState.INSUFFICIENT_DATA, None, f"no data for {what}"
        rule = f"{alarm.comparison.value} {alarm.threshold:g}"
        if not breaches(alarm.comparison, newest, alarm.threshold):
            return AlarmState.OK, newest, f"{what} = {newest:.4g}, not {rule}"
        if any(s is None for s in stats):
            return (AlarmState.INSUFFICIENT_DATA, newest,
                    f"{what} = {newest:.4g} {rule} but not every period has data")
        if all(breaches(alarm.comparison, s, alarm.threshold) for s in stats if s is not None):
            return (AlarmState.ALARM, newest,
                    f"{what} = {newest:.4g} {rule} for {alarm.periods} period(s)")
        return AlarmState.OK, newest, f"{what} = {newest:.4g} {rule}, not for every period"

    def follow(self) -> builtins.list[AlarmChange]:
        """While another process evaluates (`lecs serve`, another dashboard): announce the
        state changes it recorded since the last look (its `alarm.state-change` events)."""
        if self._seen is None:  # the first look: only what happens from now on
            self._seen = int(self.store.execute("SELECT coalesce(max(id), 0) FROM events")
                             .fetchone()[0])
            return []
        changes: builtins.list[AlarmChange] = []
        for row in self.store.rows(
                "SELECT e.id, e.time, e.resource, e.parameters, a.resource AS target, a.metric"
                " FROM events e LEFT JOIN alarms a ON a.id = e.resource WHERE e.id > ?"
                " AND e.action = 'alarm.state-change' ORDER BY e.id", [self._seen]):
            self._seen = max(self._seen, int(row["id"]))
            p = json.loads(row["parameters"] or "{}")
            try:
                old, new = AlarmState(p["from"]), AlarmState(p["to"])
            except (KeyError, ValueError):
                continue
            change = AlarmChange(row["resource"], str(p.get("name", "")), row["target"] or "",
                                 row["metric"] or "", old, new, str(p.get("detail", "")),
                                 row["time"], p.get("value"))
            changes.append(change)
            self._notify(change)
        return changes

    def evaluate(self, now: float | None = None) -> builtins.list[AlarmChange]:
        """Judge every rule; persist and announce state changes (and reminders)."""
        self._seen = None  # this process judges now: follow() starts afresh if it stops
        now = self.clock() if now is None else now
        changes: builtins.list[AlarmChange] = []
        for alarm in self.list():
            state, value, reason = self.judge(alarm, now)
            self._values[alarm.id] = value
            if state is not alarm.state:
                change = AlarmChange(alarm.id, alarm.name, alarm.resource, alarm.metric,
                                     alarm.state, state, reason, now, value)
                with self.store.transaction() as db:
                    db.table("alarms").update(alarm.id, {
                        "state": state.value, "reason": reason, "state_changed_at": now,
                        "last_value": value, "last_notified_at": now})
                self.audit.record("alarm.state-change", alarm.id, {
                    "name": alarm.name, "from": alarm.state.value, "to": state.value,
                    "detail": reason, "value": value})
            elif (state is AlarmState.ALARM and alarm.suppression > 0
                  and now - (alarm.last_notified_at or 0) >= alarm.suppression):
                change = AlarmChange(alarm.id, alarm.name, alarm.resource, alarm.metric,
                                     state, state, reason, now, value, repeat=True)
                with self.store.transaction() as db:
                    db.table("alarms").update(alarm.id, {"last_notified_at": now})
            else:
                continue
            changes.append(change)
            self._notify(change)
        return changes
