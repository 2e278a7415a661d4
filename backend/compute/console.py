"""Serial console and SSH access to an instance, for the dashboard and the CLI."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
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


def ssh_argv(inst: Instance, user: str = "root", key: str | None = None,
             command: list[str] | None = None) -> list[str]:
    """The ssh command line for the instance's forwarded port 22 (and COMMAND, if any)."""
    if inst.state.value != "running":
        raise StateError(f"cannot ssh to {inst.name!r}: it is {inst.state.value} (needs running)")
    port = inst.port_for(22)
    if port is None:
        raise LecsError(f"instance {inst.name!r} has no forwarded SSH port (no rule of its"
                        " groups allows tcp 22 in)")
    if key and not Path(key).expanduser().is_file():
        raise LecsError(f"private key {key!r} does not exist")
    ssh = shutil.which("ssh")
    if not ssh:
        raise LecsError("no ssh client installed (apt-get install openssh-client)")
    argv = [ssh, "-p", str(port), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=10"]
    if key:  # that key only: an agent's keys would hide a wrong one
        argv += ["-i", key, "-o", "IdentitiesOnly=yes"]
    return argv + [f"{user}@127.0.0.1", *(["--", *command] if command else [])]


def ssh_session(argv: list[str]) -> tuple[int, str]:
    """Run ssh on this terminal; its exit status and the tail of what ssh said on stderr
    (kept in a private temp file: a dashboard suspended for the session shows it after)."""
    with tempfile.TemporaryFile(prefix="lecs-ssh-") as err:
        try:
            status = subprocess.run(argv, stderr=err, check=False).returncode
        except OSError as exc:
            return 255, f"cannot run {argv[0]}: {exc.strerror or exc}"
        err.seek(0)
        lines = [ln.strip() for ln in err.read().decode(errors="replace").splitlines()
                 if ln.strip()]
    return status, " / ".join(lines[-2:])[-200:]


def ssh_outcome(name: str, status: int, said: str) -> str:
    """One line on how an ssh session ended ("" for a clean exit)."""
    if status == 0:
        return ""
    why = "ssh could not log in or the connection broke" if status == 255 else "the command failed"
    return f"ssh to {name!r} exited with status {status} ({why})" + (f": {said}" if said else "")
