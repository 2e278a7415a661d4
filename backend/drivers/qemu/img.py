"""qemu-img as argv lists: create, convert, info, check. Overlays are created in O(1).

A qemu-img that reads a file lecs did not write (an upload, a download) runs under resource
limits (`Limits`, applied by util-linux `prlimit` in the argv: no preexec function, which is
unsafe while other threads run): a crafted image can make `qemu-img info` spin or allocate
without bound (QEMU's own advice for untrusted images; OpenStack caps it the same way).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.inventory.errors import QemuError

QEMU_IMG = "qemu-img"
GIB = 1 << 30


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on one qemu-img process: CPU seconds (None: none) and address space bytes."""

    cpu_seconds: int | None
    address_space: int

    def argv(self) -> list[str]:
        prlimit = shutil.which("prlimit")
        if not prlimit:
            raise QemuError("prlimit is not installed (apt-get install util-linux)")
        cpu = [f"--cpu={self.cpu_seconds}"] if self.cpu_seconds else []
        return [prlimit, *cpu, f"--as={self.address_space}", "--core=0", "--"]

    def env(self) -> dict[str, str]:
        """The environment of a capped qemu-img: one malloc arena. glibc reserves 64 MiB of
        address space per arena, up to 8 per core, so without this a multi-threaded
        qemu-img on a many-core host hits any address-space cap by chance (seen here on 2
        cores: `qemu-img check` aborted once in 30 runs under 1 GiB)."""
        return {**os.environ, "MALLOC_ARENA_MAX": "1"}

    def describe(self) -> str:
        cpu = f"{self.cpu_seconds} s of CPU, " if self.cpu_seconds else ""
        return f"{cpu}{self.address_space // (1 << 20)} MiB of address space"


# `qemu-img info` / `check` of an untrusted file: header and metadata reads only.
INSPECT = Limits(cpu_seconds=60, address_space=1 * GIB)
# `qemu-img convert` of an untrusted file: as long as the copy takes (cancellable), bounded
# memory.
CONVERT = Limits(cpu_seconds=None, address_space=2 * GIB)


def binary() -> str:
    found = shutil.which(os.environ.get("LECS_QEMU_IMG", QEMU_IMG))
    if not found:
        raise QemuError("qemu-img is not installed (apt-get install qemu-utils)")
    return found


def failure(args: list[str], returncode: int, err: bytes, limits: Limits | None) -> QemuError:
    """The one-line error of a failed qemu-img (its last stderr line, or the limit hit)."""
    if returncode < 0 and limits is not None:
        return QemuError(f"qemu-img {args[0]} was stopped at its resource limits"
                         f" ({limits.describe()})")
    lines = err.decode(errors="replace").strip().splitlines()
    tail = lines[-1] if lines else f"exit status {returncode}"
    return QemuError(f"qemu-img {args[0]} failed: {tail.removeprefix('qemu-img: ')}")


async def run_status(
    args: list[str], timeout: float | None = None, limits: Limits | None = None
) -> tuple[int, str, bytes]:
    """Run qemu-img; returns (exit status, stdout, stderr) whatever the status."""
    qemu_img = binary()  # first: a missing qemu-img is the error to tell
    argv = [*(limits.argv() if limits else []), qemu_img, *args]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=limits.env() if limits else None,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except BaseException:  # timed out or cancelled: leave no qemu-img behind
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err


async def run(args: list[str], timeout: float | None = None, limits: Limits | None = None) -> str:
    try:
        code, out, err = await run_status(args, timeout, limits)
    except TimeoutError:
        raise QemuError(f"qemu-img {args[0]} timed out") from None
    if code != 0:
        raise failure(args, code, err, limits)
    return out


async def info(
    path: Path, shared: bool = False, fmt: str | None = None, limits: Limits | None = None
) -> dict[str, Any]:
    """`qemu-img info`; `shared` (-U) reads a file a running QEMU holds open. Give `fmt`
    for any file whose bytes a guest or a user wrote: without it qemu-img probes, and a raw
    disk can hold a qcow2 header that names any host file."""
    flags = ["-U"] if shared else []
    if fmt:
        flags += ["-f", fmt]
    return dict(json.loads(await run(["info", *flags, "--output=json", str(path)],
                                     limits=limits)))


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


async def resize(path: Path, size_bytes: int, fmt: str = "qcow2") -> None:
    await run(["resize", "-q", "-f", fmt, str(path), str(size_bytes)])
