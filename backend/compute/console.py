"""Serial console and SSH access to an instance, for the dashboard and the CLI."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from backend.compute import states
from backend.compute.records import Instance
from backend.inventory.errors import LecsError, StateError


async def open_serial(inst: Instance) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to the instance's serial socket (one client at a time, like a real UART)."""
    states.check("console", inst.state, inst.name)
    sock = Path(inst.runtime_dir) / "serial.sock"
    if not sock.exists():
        raise StateError(f"instance {inst.name!r} has no serial socket (is QEMU running?)")
    try:
        return await asyncio.wait_for(asyncio.open_unix_connection(str(sock)), 3.0)
    except (OSError, TimeoutError) as exc:
        raise LecsError(f"cannot attach to {inst.name!r} serial console: {exc}") from None


def ssh_argv(inst: Instance, user: str = "root", key: str | None = None) -> list[str]:
    """The ssh command line for the instance's forwarded port 22."""
    port = inst.port_for(22)
    if port is None:
        raise LecsError(f"instance {inst.name!r} has no forwarded SSH port")
    if inst.state.value != "running":
        raise StateError(f"cannot ssh to {inst.name!r}: it is {inst.state.value} (needs running)")
    ssh = shutil.which("ssh")
    if not ssh:
        raise LecsError("no ssh client installed (apt-get install openssh-client)")
    argv = [ssh, "-p", str(port), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
    if key:
        argv += ["-i", key]
    return argv + [f"{user}@127.0.0.1"]
