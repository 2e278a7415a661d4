"""Alarm rules: validation that changes nothing, and evaluation on an injected clock.

The end-to-end case on real QEMU (a busy loop drives an alarm to ALARM and back) is in
tests/test_metrics_sampler.py.
"""

from __future__ import annotations

import pytest

from backend import Cloud
from backend.inventory.errors import ConflictError, LecsError, NotFoundError, ValidationError
from backend.monitoring.alarms import Alarms
from backend.monitoring.history import History
from backend.monitoring.records import AlarmChange, AlarmState, Comparison, MetricSample, Statistic
from tests.test_metrics_history import T0, Clock

S = AlarmState


@pytest.mark.parametrize(("kwargs", "error", "text"), [
    ({"metric_name": "cpu_utl"}, ValidationError, "unknown metric 'cpu_utl'"),
    ({"metric_name": "cpu_util"}, ValidationError, "is an instance metric"),
    ({"threshold": "lots"}, ValidationError, "bad threshold 'lots'"),
    ({"threshold": "nan"}, ValidationError, "bad threshold"),
    ({"threshold": 101}, ValidationError, "must be 0 to 100"),
    ({"comparison": "=="}, ValidationError, "bad comparison '=='"),
    ({"statistic": "p99"}, ValidationError, "bad statistic 'p99'"),
    ({"period": "5x"}, ValidationError, "bad period '5x'"),
    ({"period": 0}, ValidationError, "bad period"),
    ({"periods": 0}, ValidationError, "bad periods"),
    ({"period": "30m", "periods": 3}, ValidationError, "at most 3600s"),
    ({"suppression": "-1"}, ValidationError, "bad suppression"),
    ({"name": "a b"}, ValidationError, "invalid alarm name"),
    ({"resource": "ghost"}, NotFoundError, "instance 'ghost' not found"),
])
def test_bad_rules_are_refused_and_change_nothing(
    bare_cloud: Cloud, kwargs: dict[str, object], error: type[LecsError], text: str
) -> None:
    rule: dict[str, object] = {"name": "hot", "resource": "host",
                               "metric_name": "host_cpu_util", "comparison": ">",
                               "threshold": 80}
    rule.update(kwargs)
    with pytest.raises(error, match=text) as caught:
        bare_cloud.alarms.create(**rule)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)
    assert bare_cloud.alarms.list() == []
    event = bare_cloud.audit.list()[0]
    assert (event.action, event.result) == ("alarm.create", "failure")


def test_create_list_delete_write_events(bare_cloud: Cloud) -> None:
    alarm = bare_cloud.alarms.create("hot", "host", "host_cpu_util", "ge", "80.5",
                                     period="1m", periods="3", statistic="max",
                                     suppression="5m")
    assert (alarm.comparison, alarm.statistic) == (Comparison.GE, Statistic.MAX)
    assert (alarm.threshold, alarm.period, alarm.periods, alarm.suppression) == (
        80.5, 60.0, 3, 300.0)
    assert alarm.state is S.INSUFFICIENT_DATA and alarm.id.startswith("al-")
    with pytest.raises(ConflictError, match="exists already"):
        bare_cloud.alarms.create("hot", "host", "host_mem_util", ">", 1)
    assert [a.name for a in bare_cloud.alarms.list()] == ["hot"]
    assert bare_cloud.alarms.get("hot").id == alarm.id
    bare_cloud.alarms.delete("hot")
    with pytest.raises(NotFoundError, match="alarm 'hot' not found"):
        bare_cloud.alarms.delete("hot")
    events = [(e.action, e.result, e.resource) for e in bare_cloud.audit.list()]
    assert events[:4] == [("alarm.delete", "failure", "hot"),
                          ("alarm.delete", "success", alarm.id),
                          ("alarm.create", "failure", "hot"),
                          ("alarm.create", "success", alarm.id)]


def test_periods_states_suppression_and_notifications(bare_cloud: Cloud) -> None:
    clock = Clock(T0)
    history = History(bare_cloud.store, clock, flush_every=30.0)
    alarms = Alarms(bare_cloud.store, bare_cloud.audit, history, bare_cloud.journal, clock)
    seen: list[AlarmChange] = []
    unsubscribe = alarms.subscribe(seen.append)
    alarm = alarms.create("hot", "host", "host_cpu_util", ">", 80, period=10, periods=2,
                          suppression=15)

    def run(until: float, value: float | None) -> list[tuple[float, S]]:
        """Feed one sample a second up to `until` (relative to T0), evaluating each tick."""
        states = []
        while clock.t < T0 + until:
            clock.t += 1
            history.add([MetricSample("host", clock.t, {"host_cpu_util": value})])
            for change in alarms.evaluate():
                states.append((clock.t - T0, change.new))
        return states

    assert alarms.evaluate() == []  # no data: stays INSUFFICIENT_DATA, nothing announced
    # breaching from the start, but the older period has no data yet: insufficient, then
    # ALARM once both 10 s periods breach (t=11: windows (1,11] and (-9,1] both have data)
    assert run(30, 95.0) == [(11, S.ALARM), (26, S.ALARM)]  # 26: a suppression reminder
    assert [c.repeat for c in seen] == [False, True]
    assert alarms.get("hot").state is S.ALARM
    assert "for 2 period(s)" in alarms.get("hot").reason
    assert run(31, 0.0) == []  # one quiet second: the 10 s average is still 85.5
    # OK as soon as the newest period's average is not > 80: (8 x 95 + 0 + 0) / 10 = 76
    assert run(40, 0.0) == [(32, S.OK)]
    # n/a samples (None) are no data: INSUFFICIENT_DATA once the newest period has none
    assert run(52, None) == [(41 + 9, S.INSUFFICIENT_DATA)]
    unsubscribe()
    # breaching again: OK while the older period holds the zeros, INSUFFICIENT_DATA while
    # it holds only n/a, ALARM once both periods have breaching data
    assert run(65, 99.0) == [(53, S.OK), (60, S.INSUFFICIENT_DATA), (63, S.ALARM)]
    assert len(seen) == 4  # unsubscribed

    changes = [e for e in bare_cloud.audit.list(alarm.id) if e.action == "alarm.state-change"]
    assert [(e.parameters["from"], e.parameters["to"]) for e in reversed(changes)] == [
        ("insufficient_data", "alarm"), ("alarm", "ok"), ("ok", "insufficient_data"),
        ("insufficient_data", "ok"), ("ok", "insufficient_data"), ("insufficient_data", "alarm")]
    assert all(e.result == "success" for e in changes)  # reminders are not audit events
    stored = alarms.get(alarm.id)
    assert stored.state is S.ALARM and stored.last_value == pytest.approx(99.0)


def test_min_statistic_and_less_than(bare_cloud: Cloud) -> None:
    clock = Clock(T0)
    history = History(bare_cloud.store, clock)
    alarms = Alarms(bare_cloud.store, bare_cloud.audit, history, bare_cloud.journal, clock)
    alarm = alarms.create("idle", "host", "host_load_1m", "<", 0.5, period=5,
                          statistic="min")
    for i, value in enumerate([2.0, 2.0, 0.1, 2.0, 2.0]):
        history.add([MetricSample("host", T0 + i, {"host_load_1m": value})])
    clock.t = T0 + 4
    assert alarms.judge(alarms.get(alarm.id), clock.t)[0] is S.ALARM
    assert alarms.judge(alarms.get(alarm.id), clock.t + 3)[0] is S.OK  # the 0.1 left the window
