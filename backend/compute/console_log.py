"""`lecs instance console-log NAME [--tail N]` (ECS GetInstanceConsoleOutput): the guest's
serial output without attaching. QEMU writes it to serial.log in the runtime dir (truncated
at each start and reboot); stopping keeps the file, so a stopped instance shows its last boot.

The output is the guest's, so untrusted: terminal control sequences and other control
characters are removed before it reaches anyone's terminal."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from backend.inventory.errors import ValidationError

if TYPE_CHECKING:
    from backend.compute.instances import Instances

MAX_BYTES = 1 << 20  # the last MiB of a long log (ECS returns the last 64 KiB)
ESCAPES = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(slots=True)
class ConsoleLog:
    instance_id: str
    name: str
    state: str
    text: str  # cleaned lines, "\n"-separated
    truncated: bool  # older output left out (MAX_BYTES or --tail)
    boot: str  # "current" (running) or "last" (the last boot of a stopped instance)


def clean(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    return CONTROL.sub("", ESCAPES.sub("", text))


def console_log(inst: Instances, ref: str, tail: int | None = None) -> ConsoleLog:
    if tail is not None and tail < 1:
        raise ValidationError(f"invalid --tail {tail}: a number of lines, 1 or more")
    found = inst.get(ref)
    path = inst.driver.rundir(found.id) / "serial.log"
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - MAX_BYTES))
            raw = f.read()
    except FileNotFoundError:
        raw, size = b"", 0
    lines = clean(raw).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    truncated = size > MAX_BYTES
    if truncated:
        lines = lines[1:]  # the first line was cut
    if tail is not None and len(lines) > tail:
        lines, truncated = lines[-tail:], True
    running = found.state.value in ("running", "paused", "starting", "rebooting")
    return ConsoleLog(found.id, found.name, found.state.value, "\n".join(lines), truncated,
                      "current" if running else "last")
