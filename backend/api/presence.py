"""One `lecs serve` per inventory: it holds `serve.lock` (flock) in the runtime dir for its
whole life and writes `serve.json` (0600: pid, its start time, address) once it listens.

A second serve fails to take the lock and names the first's pid and address. Readers (the
dashboard's header, `lecs doctor`) never take the lock: they believe `serve.json` only when
its pid runs and was started at the time recorded (a reused pid is not a serve).
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from backend.inventory.errors import ConflictError
from backend.inventory.journal import process_start
from backend.inventory.paths import Paths

DEFAULT_PORT = 8480  # `lecs serve`'s port unless --port says otherwise


@dataclass(slots=True, frozen=True)
class ServeInfo:
    pid: int
    address: str  # http(s)://host:port/
    started: int  # the pid's start time (clock ticks after boot)


def state_path(paths: Paths) -> Path:
    return paths.runtime / "serve.json"


def running(paths: Paths) -> ServeInfo | None:
    """The serve of this inventory, if one runs (proven by its pid's start time)."""
    try:
        data = json.loads(state_path(paths).read_text())
        info = ServeInfo(int(data["pid"]), str(data["address"]), int(data["started"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if process_start(info.pid) != info.started:
        return None
    return info


class Presence:
    """Held by the one serve: the lock, then the state file once the address is known."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.fd: int | None = None

    def claim(self) -> None:
        fd = os.open(self.paths.runtime / "serve.lock", os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW,
                     0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            other = running(self.paths)
            where = f" (pid {other.pid}, {other.address})" if other else \
                " (it is starting or stopping)"
            raise ConflictError(f"lecs serve runs already for {self.paths.home}{where};"
                                " one serve per inventory") from None
        self.fd = fd

    def publish(self, address: str) -> None:
        pid = os.getpid()
        data = {"pid": pid, "address": address, "started": process_start(pid) or 0,
                "home": str(self.paths.home)}
        path = state_path(self.paths)
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as fout:
            json.dump(data, fout)
        os.replace(tmp, path)

    def release(self) -> None:
        if self.fd is None:
            return
        info = running(self.paths)
        if info is not None and info.pid == os.getpid():
            state_path(self.paths).unlink(missing_ok=True)
        os.close(self.fd)
        self.fd = None
