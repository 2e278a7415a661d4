"""How far a running guest is: booting, ready (SSH answers) or configured (its user-data ran).

- ready: an SSH banner on the forwarded port 22 (`ssh_banner`, what `--wait` waits for), or,
  on the serial console, sshd started (systemd's line) or the tiny guest's marker.
- configured: cloud-init's last line on the serial console ("Cloud-init v. 22.4 finished at
  …", printed once its final stage ran the user-data), or the tiny guest's marker, which it
  prints after running its user-data (sample_data/guest/init.sh).

The serial log (`serial.log` in the runtime dir) is emptied at each reboot and each launch,
so what it says is about this boot. `of_log` reads it again only when it changed.
"""

from __future__ import annotations

import asyncio
import os
import re
from enum import StrEnum


class Readiness(StrEnum):
    BOOTING = "booting"
    READY = "ready"
    CONFIGURED = "configured"

    @property
    def rank(self) -> int:
        return RANKS[self]


RANKS = {Readiness.BOOTING: 0, Readiness.READY: 1, Readiness.CONFIGURED: 2}
TINY_MARKER = b"LECS-GUEST-READY"  # the tiny guest: its user-data ran, dropbear listens
CONFIGURED_LINE = re.compile(rb"Cloud-init v\. \S+ finished at |" + TINY_MARKER)
ANSI = rb"(?:\x1b\[[0-9;]*m)?"  # systemd colours the unit's name on a terminal
SSHD_LINE = re.compile(rb"Started " + ANSI + rb"(?:ssh\.service|OpenBSD Secure Shell server)")
_seen: dict[str, tuple[int, int, Readiness]] = {}  # serial log: (size, mtime_ns, level)


def level_of(wait: bool | Readiness) -> Readiness:
    """What `--wait` waits for: True is READY (SSH answers)."""
    return wait if isinstance(wait, Readiness) else Readiness.READY


def from_text(data: bytes) -> Readiness:
    if CONFIGURED_LINE.search(data):
        return Readiness.CONFIGURED
    if SSHD_LINE.search(data):
        return Readiness.READY
    return Readiness.BOOTING


def of_log(path: str) -> Readiness | None:
    """What the serial log says of this boot; None without a log (no QEMU of lecs wrote it)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    known = _seen.get(path)
    if known and known[:2] == (st.st_size, st.st_mtime_ns):
        return known[2]
    try:
        with open(path, "rb") as log:
            level = from_text(log.read())
    except OSError:
        return None
    _seen[path] = (st.st_size, st.st_mtime_ns, level)
    return level


async def ssh_banner(host: str, port: int, patience: float = 15.0) -> bool:
    """An SSH banner on host:port. A forward whose guest port nobody listens on closes at
    once; a guest's sshd may take seconds to send its banner (it re-executes itself for each
    connection: 8 s seen on a loaded host under TCG), so the banner is waited for `patience`."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 0.5)
    except (TimeoutError, OSError):
        return False
    try:
        data = await asyncio.wait_for(reader.readexactly(4), patience)
        return data == b"SSH-"
    except (TimeoutError, OSError, asyncio.IncompleteReadError):
        return False
    finally:
        writer.close()
