"""Per-resource locks across processes (the dashboard and a CLI in another terminal)."""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from backend.inventory.errors import ConflictError


class Locks:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _open(self, resource: str) -> int:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return os.open(self.directory / f"{resource}.lock", os.O_CREAT | os.O_RDWR, 0o600)

    @asynccontextmanager
    async def hold(self, resource: str, timeout: float = 60.0) -> AsyncIterator[None]:
        fd = self._open(resource)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if loop.time() > deadline:
                        raise ConflictError(
                            f"{resource} is busy with another operation; try again"
                        ) from None
                    await asyncio.sleep(0.05)
            yield
        finally:
            os.close(fd)

    def try_hold(self, resource: str) -> int | None:
        """Take the lock without waiting; returns an fd to `release`, or None if busy."""
        fd = self._open(resource)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    @staticmethod
    def release(fd: int) -> None:
        os.close(fd)

    def forget(self, resource: str) -> None:
        (self.directory / f"{resource}.lock").unlink(missing_ok=True)
