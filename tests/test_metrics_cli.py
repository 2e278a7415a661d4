"""`lecs metric …` and `lecs alarm …` as a user runs them: --json, one-line errors."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.test_cli import assert_one_line_error, lecs


def test_alarm_create_list_delete_and_bad_input(home: Path) -> None:
    created = json.loads(lecs(home, "alarm", "create", "hot", "--resource", "host",
                              "--metric", "host_cpu_util", "--comparison", "gt",
                              "--threshold", "90", "--period", "30s", "--periods", "2",
                              "--json").stdout)
    assert created["name"] == "hot" and created["comparison"] == ">"
    assert (created["period"], created["periods"], created["state"]) == (
        30.0, 2, "insufficient_data")
    for args, text in [
        (("--metric", "nope", "--threshold", "1"), "unknown metric 'nope'"),
        (("--metric", "host_cpu_util", "--threshold", "abc"), "bad threshold 'abc'"),
        (("--metric", "host_cpu_util", "--threshold", "1", "--period", "1y"), "bad period"),
    ]:
        assert_one_line_error(lecs(home, "alarm", "create", "x", "--resource", "host",
                                   "--comparison", ">", *args, check=False), text)
    assert_one_line_error(lecs(home, "metric", "show", "host", "--since", "10x", check=False),
                          "bad --since '10x'")
    assert_one_line_error(lecs(home, "metric", "show", "ghost", check=False),
                          "instance 'ghost' not found")
    listed = json.loads(lecs(home, "alarm", "list", "--json").stdout)
    assert [a["name"] for a in listed] == ["hot"]  # the refused ones changed nothing
    assert "avg(host_cpu_util) > 90 for 2x30s" in lecs(home, "alarm", "list").stdout
    deleted = lecs(home, "alarm", "delete", "hot", "--yes", "--json").stdout
    assert json.loads(deleted)["name"] == "hot"
    assert_one_line_error(lecs(home, "alarm", "delete", "hot", "--yes", check=False),
                          "alarm 'hot' not found")
    assert json.loads(lecs(home, "alarm", "list", "--json").stdout) == []
    events = json.loads(lecs(home, "event", "list", "--json").stdout)
    actions = [(e["action"], e["result"]) for e in events if e["action"].startswith("alarm.")]
    assert actions.count(("alarm.create", "failure")) == 3
    assert ("alarm.create", "success") in actions and ("alarm.delete", "success") in actions


def test_metric_show_samples_on_demand_and_watch(home: Path) -> None:
    shown = json.loads(lecs(home, "metric", "show", "host", "--since", "1m", "--json").stdout)
    assert shown["sampler"]["pid"] is None and "sampled just now" in shown["note"]
    host = shown["metrics"]
    assert 0 < host["host_mem_util"]["latest"] < 100
    assert host["host_cpu_util"]["latest"] is not None
    lines = lecs(home, "metric", "watch", "--interval", "0.2s", "--count", "2",
                 "--json").stdout.splitlines()
    assert [json.loads(line)["tick"] for line in lines] == [1, 2]
    assert json.loads(lines[-1])["samples"][0]["resource"] == "host"
    text = lecs(home, "metric", "show", "host").stdout  # history now: no on-demand sample
    assert "host_load_1m" in text and "note:" not in text
    assert "latest sampled" in text and "s ago)" in text  # the age is always said
    time.sleep(5.5)  # older than FRESH_S and no sampler runs: sampled afresh, not shown stale
    again = json.loads(lecs(home, "metric", "show", "host", "--json").stdout)
    assert "sampled just now" in again["note"] and time.time() - again["sampled_at"] < 5
    assert "cpu_util" in lecs(home, "metric", "list").stdout


def test_monitoring_modules_leave_textual_and_rich_out() -> None:
    import subprocess
    import sys

    code = ("import sys, app.cli.metrics, backend.monitoring.service\n"
            "import backend.drivers.qemu.counters\n"
            "print(','.join(m for m in ('textual', 'rich') if m in sys.modules))\n")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert found == ""
