"""Typed records of monitoring (backend/metrics): samples, counters, alarms."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Statistic(enum.StrEnum):
    AVG = "avg"
    MAX = "max"
    MIN = "min"


class Comparison(enum.StrEnum):
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="


class AlarmState(enum.StrEnum):
    OK = "ok"
    ALARM = "alarm"
    INSUFFICIENT_DATA = "insufficient_data"


@dataclass(slots=True, frozen=True)
class MetricSample:
    """One sampling instant of one resource (an instance id, or "host")."""

    resource: str
    t: float  # wall-clock seconds since the epoch
    values: dict[str, float | None]  # metric name -> value; None means "n/a", never a fake 0



@dataclass(slots=True)
class Alarm:
    id: str
    name: str
    resource: str  # instance id, or "host"
    metric: str
    statistic: Statistic
    comparison: Comparison
    threshold: float
    period: float  # seconds per evaluation period
    periods: int  # consecutive periods that must breach
    suppression: float  # seconds between repeated notifications while in alarm; 0 = once
    state: AlarmState
    reason: str
    state_changed_at: float
    created_at: float
    last_value: float | None = None
    last_notified_at: float | None = None


@dataclass(slots=True, frozen=True)
class AlarmChange:
    """A state change (or, with suppression, a reminder) the dashboard pops as a notice."""

    alarm_id: str
    name: str
    resource: str
    metric: str
    old: AlarmState
    new: AlarmState
    reason: str
    t: float
    value: float | None
    repeat: bool = False
