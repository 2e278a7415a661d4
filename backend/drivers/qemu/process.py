"""QEMU processes that outlive lecs: spawn daemonized, find by pidfile, judge liveness."""

from __future__ import annotations

import asyncio
import enum
import os
import signal
from pathlib import Path

from backend.inventory.errors import QemuError


class Liveness(enum.Enum):
    ALIVE = "alive"
    EXITED = "exited"  # QEMU exited cleanly: it removed its pidfile
    CRASHED = "crashed"  # pidfile left behind by a process that is gone (killed, crashed)
    ABSENT = "absent"  # never started here / nothing recorded


def read_pid(pidfile: Path) -> int | None:
    try:
        text = pidfile.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def process_alive(pid: int, rundir: Path) -> bool:
    """True if `pid` is a live (not zombie) QEMU whose argv names `rundir`."""
    import psutil  # here, not at module level: off the dashboard's start-up path

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    marker = str(rundir) + os.sep
    return any(marker in arg for arg in cmdline)


def liveness(rundir: Path, recorded_pid: int | None) -> tuple[Liveness, int | None]:
    pidfile = rundir / "qemu.pid"
    pid = read_pid(pidfile)
    if pid is not None:
        if process_alive(pid, rundir):
            return Liveness.ALIVE, pid
        return Liveness.CRASHED, pid
    if recorded_pid is not None and process_alive(recorded_pid, rundir):
        return Liveness.ALIVE, recorded_pid
    if recorded_pid is not None:
        return Liveness.EXITED, recorded_pid
    return Liveness.ABSENT, None


async def spawn(argv: list[str], rundir: Path) -> int:
    """Run a `-daemonize` QEMU; returns the daemon's pid once its sockets exist."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=rundir,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise QemuError(f"{argv[0]} is not installed here: apt-get install qemu-system-x86"
                        " (see `lecs doctor`)") from None
    out, err = await proc.communicate()
    if proc.returncode != 0:
        text = (err or out).decode(errors="replace").strip().splitlines()
        tail = text[-1] if text else f"exit status {proc.returncode}"
        (rundir / "qemu.err").write_text("\n".join(text) + "\n")
        raise QemuError(f"QEMU failed to start: {tail}")
    pid = read_pid(rundir / "qemu.pid")
    if pid is None:
        raise QemuError("QEMU started but wrote no pidfile")
    return pid


async def wait_exit(pid: int, rundir: Path, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if not process_alive(pid, rundir):
            return True
        await asyncio.sleep(0.02)
    return not process_alive(pid, rundir)


def kill(pid: int, rundir: Path) -> None:
    if process_alive(pid, rundir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


RUNTIME_FILES = ("qmp.sock", "events.sock", "watch.sock", "serial.sock", "qemu.pid")


def clean_runtime(rundir: Path, keep_logs: bool = True) -> None:
    """Remove stale sockets and pidfiles (and everything, if keep_logs is False)."""
    if not rundir.exists():
        return
    for entry in rundir.iterdir():
        if keep_logs and entry.name not in RUNTIME_FILES:
            continue
        try:
            entry.unlink()
        except OSError:
            pass
    if not keep_logs:
        try:
            rundir.rmdir()
        except OSError:
            pass


def sigterm(pid: int, rundir: Path) -> None:
    if process_alive(pid, rundir):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def guard_rundir(rundir: Path) -> None:
    if len(str(rundir / "serial.sock")) > 107:  # the longest socket name
        raise QemuError(f"runtime dir {rundir} is too long for unix sockets; set LECS_RUNTIME_DIR")


def find(rundir: Path) -> list[int]:
    """Live QEMUs whose argv names `rundir`, found by scanning the process table (recovery
    only: a QEMU launched by a process killed before its pid file was read)."""
    import psutil

    marker = str(rundir) + os.sep
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if any(marker in arg for arg in proc.info["cmdline"] or []):
            found.append(proc.pid)
    return found
