"""Short-lived QMP sessions over a unix socket with qemu.qmp's async QMPClient."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from qemu.qmp import ExecuteError, QMPClient

from backend.inventory.errors import QemuError

logging.getLogger("qemu.qmp").setLevel(logging.CRITICAL)


class Monitor:
    """One connected QMP session; use `session()` to open and always close it."""

    def __init__(self, client: QMPClient) -> None:
        self.client = client

    async def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        try:
            return await self.client.execute(command, arguments)
        except ExecuteError as exc:
            raise QemuError(f"QMP {command} failed: {exc.error_class}: {exc}") from None

    async def execute_ignoring_eof(self, command: str) -> None:
        """For commands after which QEMU may close the socket (quit)."""
        try:
            await self.client.execute(command)
        except (EOFError, ConnectionError, OSError):
            pass
        except Exception as exc:  # qemu.qmp wraps a closed stream in its own errors
            if "EOF" not in repr(exc) and "disconnect" not in repr(exc).lower():
                raise


@asynccontextmanager
async def session(path: Path, timeout: float = 5.0, name: str = "lecs") -> AsyncIterator[Monitor]:
    """A QMP session. QEMU serves one client per monitor socket, so a connect that races
    another short session (the dashboard's poll, a CLI in another terminal) can fail its
    negotiation; such failures are retried until `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        client = QMPClient(name)
        try:
            await asyncio.wait_for(client.connect(str(path)), max(0.1, deadline - loop.time()))
            break
        except Exception as exc:  # OSError, TimeoutError, qemu.qmp's ConnectError
            await quiet_disconnect(client)
            cause = getattr(exc, "exc", exc)  # qemu.qmp's ConnectError wraps the OSError
            gone = isinstance(cause, FileNotFoundError | ConnectionRefusedError)
            if gone or loop.time() + 0.05 >= deadline:
                detail = str(exc) or type(exc).__name__
                raise QemuError(f"QMP socket {path} does not answer: {detail}") from None
            await asyncio.sleep(0.05)
    try:
        yield Monitor(client)
    finally:
        await quiet_disconnect(client)


async def quiet_disconnect(client: QMPClient) -> None:
    try:
        await client.disconnect()
    except Exception:  # the peer may already be gone; nothing left to release
        pass


async def query_status(path: Path, timeout: float = 5.0) -> str:
    async with session(path, timeout) as mon:
        reply = await mon.execute("query-status")
    return str(reply["status"])


async def wait_for_socket(path: Path, timeout: float = 5.0) -> None:
    """Wait until QMP at `path` answers a query, or raise QemuError."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = ""
    while loop.time() < deadline:
        if path.exists():
            try:
                await query_status(path, timeout=max(0.1, deadline - loop.time()))
                return
            except QemuError as exc:
                last = str(exc)
        await asyncio.sleep(0.01)
    raise QemuError(f"QMP did not answer within {timeout:.0f}s {last}".strip())
