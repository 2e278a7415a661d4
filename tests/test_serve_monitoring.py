"""Monitoring never sleeps: under `lecs serve`, with no dashboard and no `metric watch`, an
alarm created from the CLI fires when a tiny guest busy-loops (its user-data starts the loop)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.serve_helpers import lecs, running_serve

BUSY = "#!/bin/sh\n(while :; do :; done) >/dev/null 2>&1 &\necho busy-loop started\n"


@pytest.mark.qemu
def test_an_alarm_fires_under_serve_alone(home: Path, tiny_guest: Path) -> None:
    script = home.parent / "busy.sh"
    script.write_text(BUSY)
    with running_serve(home) as srv:
        lecs(home, "instance", "create", "busy", "--image", "tiny", "--type", "t1.nano",
             "--user-data", str(script), "--wait")
        lecs(home, "alarm", "create", "hot", "--resource", "busy", "--metric", "cpu_util",
             "--comparison", ">", "--threshold", "30", "--period", "10s",
             "--statistic", "max")
        deadline = time.monotonic() + 180
        state = ""
        while time.monotonic() < deadline:
            state = json.loads(lecs(home, "alarm", "show", "hot", "--json").stdout)["state"]
            if state == "alarm":
                break
            time.sleep(2)
        assert state == "alarm", (srv.log_text(), lecs(home, "metric", "show", "busy").stdout)
        status = json.loads(lecs(home, "metric", "show", "busy", "--json").stdout)
        assert status["sampler"]["pid"] == srv.proc.pid  # serve samples, nobody else
        events = json.loads(lecs(home, "event", "list", "--json").stdout)
        fired = [e for e in events if e["action"] == "alarm.state-change"]
        assert fired and "alarm" in json.dumps(fired[0]["parameters"]).lower()
        lecs(home, "instance", "delete", "busy", "--yes")


def test_looking_does_not_judge(home: Path) -> None:
    """`lecs metric show` with no sampler running samples on demand but leaves alarms to a
    continuous judge: looking never flips an alarm (it flipped ok/insufficient each time)."""
    lecs(home, "alarm", "create", "hot", "--resource", "host", "--metric", "host_mem_util",
         "--comparison", ">=", "--threshold", "0", "--period", "10s")
    shown = json.loads(lecs(home, "metric", "show", "host", "--json").stdout)
    assert "sampled just now" in shown["note"]  # two readings, written to history
    alarm = json.loads(lecs(home, "alarm", "show", "hot", "--json").stdout)
    assert alarm["state"] == "insufficient_data"
    events = json.loads(lecs(home, "event", "list", "--json").stdout)
    assert not [e for e in events if e["action"] == "alarm.state-change"]
