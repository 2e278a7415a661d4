"""How a cell shows a time, an instance state, tags, an event's parameters: shared by the panes
and the screens that show the same things (pure)."""

from __future__ import annotations

import json
import time

from backend.inventory.records import Event, InstanceState

S = InstanceState
STATE_STYLE = {
    S.RUNNING: "ok", S.ERROR: "bad", S.STOPPED: "stopped", S.DELETED: "stopped",
    S.PENDING: "busy", S.STARTING: "busy", S.STOPPING: "busy", S.REBOOTING: "busy",
    S.PAUSED: "busy",
}


def state_style(state: InstanceState) -> str:
    return STATE_STYLE.get(state, "")


def tags_text(tags: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(tags.items()))


def when(ts: float) -> str:
    return time.strftime("%m-%d %H:%M:%S", time.localtime(ts))


def params_text(event: Event) -> str:
    if event.error:
        return event.error
    return json.dumps(event.parameters, sort_keys=True, separators=(",", ":"), default=str)
