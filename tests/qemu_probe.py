"""Helpers for tests that look at QEMU from outside lecs: QMP, the process table, the guest."""

from __future__ import annotations

import asyncio
import os
import urllib.request
from pathlib import Path

import psutil
from qemu.qmp import QMPClient


async def qmp_status(rundir: str | Path) -> str:
    client = QMPClient("test-probe")
    await client.connect(str(Path(rundir) / "qmp.sock"))
    try:
        reply = await client.execute("query-status")
    finally:
        await client.disconnect()
    return str(reply["status"])


def qemu_pids(rundir: str | Path) -> list[int]:
    """Live (non-zombie) QEMUs whose argv names this instance's runtime dir."""
    return [pid for pid, argv in _naming(rundir) if "qemu-system" in os.path.basename(argv[0])]


def passt_pids(rundir: str | Path) -> list[int]:
    """Live passt processes (an instance's egress) whose argv names its runtime dir."""
    return [pid for pid, argv in _naming(rundir) if os.path.basename(argv[0]) == "passt"]


def _naming(rundir: str | Path) -> list[tuple[int, list[str]]]:
    marker = str(rundir) + os.sep
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        argv = proc.info["cmdline"] or []
        if argv and any(marker in arg for arg in argv):
            found.append((proc.pid, argv))
    return found


def http_get(port: int, timeout: float = 3.0) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as reply:
        return reply.read().decode(errors="replace")


async def serial_run(rundir: str | Path, command: str, expect: str, timeout: float = 15) -> str:
    """Type a command on the guest's serial console and wait for `expect` in its output."""
    reader, writer = await asyncio.open_unix_connection(str(Path(rundir) / "serial.sock"))
    seen = b""
    try:
        writer.write(b"\n" + command.encode() + b"\n")
        await writer.drain()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while expect.encode() not in seen:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"{expect!r} not seen; got {seen[-400:]!r}")
            try:
                seen += await asyncio.wait_for(reader.read(4096), left)
            except TimeoutError:
                continue
    finally:
        writer.close()
    return seen.decode(errors="replace")
