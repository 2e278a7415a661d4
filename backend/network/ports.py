"""Host ports for forwards, and stable MAC addresses."""

from __future__ import annotations

import hashlib
import socket

from backend.inventory.errors import LecsError


def free_port(addr: str = "127.0.0.1", avoid: set[int] | None = None) -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((addr, 0))
            port = int(sock.getsockname()[1])
        if not avoid or port not in avoid:
            return port
    raise LecsError("no free TCP port on this host")


def port_is_free(addr: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((addr, port))
        except OSError:
            return False
    return True


def mac_for(instance_id: str) -> str:
    raw = hashlib.sha256(instance_id.encode()).digest()
    return "52:54:00:" + ":".join(f"{b:02x}" for b in raw[:3])
