"""Is the guest ready? An SSH banner on its forwarded port is one sign."""

from __future__ import annotations

import asyncio


async def ssh_banner(host: str, port: int) -> bool:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 0.5)
    except (TimeoutError, OSError):
        return False
    try:
        data = await asyncio.wait_for(reader.read(4), 0.5)
        return data == b"SSH-"
    except (TimeoutError, OSError):
        return False
    finally:
        writer.close()
