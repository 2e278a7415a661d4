"""qemu-img as argv lists: create, convert, info, check. Overlays are created in O(1)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from backend.inventory.errors import LecsError, QemuError, ValidationError

QEMU_IMG = "qemu-img"


async def run(args: list[str], timeout: float | None = None) -> str:
    binary = shutil.which(os.environ.get("LECS_QEMU_IMG", QEMU_IMG))
    if not binary:
        raise QemuError("qemu-img is not installed (apt-get install qemu-utils)")
    proc = await asyncio.create_subprocess_exec(
        binary, *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise QemuError(f"qemu-img {args[0]} timed out") from None
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        tail = lines[-1] if lines else f"exit status {proc.returncode}"
        raise QemuError(f"qemu-img {args[0]} failed: {tail.removeprefix('qemu-img: ')}")
    return out.decode(errors="replace")


async def info(path: Path, shared: bool = False) -> dict[str, Any]:
    """`qemu-img info`; `shared` (-U) reads a file a running QEMU holds open."""
    flags = ["-U"] if shared else []
    return dict(json.loads(await run(["info", *flags, "--output=json", str(path)])))


async def create_blank(path: Path, size_bytes: int) -> None:
    await run(["create", "-q", "-f", "qcow2", str(path), str(size_bytes)])
    path.chmod(0o600)


async def create_overlay(path: Path, backing: Path, backing_format: str, template: Path,
                         size_bytes: int | None = None) -> None:
    """Create a qcow2 overlay on `backing`, `size_bytes` large (default: the backing's size).

    All overlays of one image and size are byte-identical when new (the header names the
    backing file by absolute path), so the first is made by qemu-img into `template` and the
    rest are copies of it: create stays O(1) and costs no subprocess.
    """
    if not template.exists():
        tmp = template.with_name(f"{template.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        size = [] if size_bytes is None else [str(size_bytes)]
        await run([
            "create", "-q", "-f", "qcow2", "-b", str(backing), "-F", backing_format, str(tmp),
            *size,
        ])
        os.replace(tmp, template)
    shutil.copyfile(template, path)
    path.chmod(0o600)


async def create_blank_fast(path: Path, size_bytes: int, template: Path) -> None:
    """A blank qcow2 of `size_bytes`, copied from a template made once per size."""
    if not template.exists():
        tmp = template.with_name(f"{template.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        await create_blank(tmp, size_bytes)
        os.replace(tmp, template)
    shutil.copyfile(template, path)
    path.chmod(0o600)


async def resize(path: Path, size_bytes: int) -> None:
    await run(["resize", "-q", str(path), str(size_bytes)])


async def convert(src: Path, dest: Path, out_format: str = "qcow2") -> None:
    await run(["convert", "-q", "-O", out_format, str(src), str(dest)])
    dest.chmod(0o600)


async def check(path: Path) -> None:
    await run(["check", "-q", str(path)])


DISK_FORMATS = frozenset({"qcow2", "raw", "vmdk", "vdi", "vpc", "vhdx", "qed"})


async def standalone_format(path: Path, label: str) -> str:
    """The format of a disk image fit to import (one lecs can read, with no backing file);
    `label` names it in the error (a path, or a URL without credentials)."""
    try:
        meta = await info(path)
    except LecsError as exc:
        raise ValidationError(f"{label} is not a disk image qemu-img reads: {exc}") from None
    fmt = str(meta.get("format", ""))
    if fmt not in DISK_FORMATS:
        raise ValidationError(f"{label}: unsupported image format {fmt!r}")
    if meta.get("backing-filename"):
        raise ValidationError(f"{label} has a backing file; import a standalone image")
    return fmt
