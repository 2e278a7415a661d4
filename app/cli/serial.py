"""`lecs instance console`: bridge the terminal to the instance's serial socket (ctrl+] quits)."""

from __future__ import annotations

import asyncio
import os
import sys
import termios
import tty
from typing import Any

from backend.compute.console import open_serial
from backend.inventory.errors import LecsError

DETACH = b"\x1d"  # ctrl+]


async def attach(inst: Any) -> None:
    if not sys.stdin.isatty():
        raise LecsError("console needs a terminal")
    reader, writer = await open_serial(inst)
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    done = asyncio.Event()
    sys.stdout.write(f"attached to {inst.name} serial console; ctrl+] detaches\r\n")
    sys.stdout.flush()

    def on_key() -> None:
        data = os.read(fd, 1024)
        if DETACH in data or not data:
            done.set()
            return
        writer.write(data)

    async def pump() -> None:
        while chunk := await reader.read(4096):
            os.write(sys.stdout.fileno(), chunk)
        done.set()

    tty.setraw(fd)
    loop.add_reader(fd, on_key)
    task = asyncio.create_task(pump())
    try:
        await done.wait()
    finally:
        loop.remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        task.cancel()
        writer.close()
        sys.stdout.write("\r\ndetached\r\n")
