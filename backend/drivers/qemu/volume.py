"""qemu-img on volumes that may be qcow2 LUKS-encrypted: create, resize, snapshot, convert.

An encrypted volume is opened with `--object secret,id=…,file=KEYFILE` and `--image-opts`,
so the key travels in its 0600 file, never as an argument. `convert` reports progress
(qemu-img `-p`) and kills qemu-img if the calling task is cancelled.

`references` says what else a file makes QEMU open (backing file, external data file, vmdk
extents); `sealed` proves a file lecs made is one standalone file, and `owned_chain` that a
disk's backing chain holds only files under LECS_HOME, walking it one header at a time with
each backing file's recorded format, so no file outside is ever opened.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.drivers.qemu import img
from backend.drivers.qemu.argv import qemu_opt
from backend.inventory.errors import LecsError, QemuError

Fraction = Callable[[float], None]
PROGRESS_RE = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")


@dataclass(frozen=True, slots=True)
class Volume:
    path: Path
    key: Path | None = None  # the passphrase file of a LUKS-encrypted qcow2
    format: str = "qcow2"

    def objects(self, sid: str) -> list[str]:
        return ["--object", f"secret,id={sid},file={qemu_opt(str(self.key))}"] if self.key else []

    def spec(self, sid: str) -> str:
        """The `--image-opts` form of this volume."""
        text = f"driver={self.format},file.filename={qemu_opt(str(self.path))}"
        return text + (f",encrypt.key-secret={sid}" if self.key else "")

    def source(self, sid: str) -> list[str]:
        """Arguments naming this volume as an image to open (plain or `--image-opts`)."""
        if self.key:
            return [*self.objects(sid), "--image-opts", self.spec(sid)]
        return ["-f", self.format, str(self.path)]


# The passphrase is a random 256-bit key, so LUKS key stretching adds no strength; a short
# PBKDF time keeps every open (QEMU start, qemu-img) fast.
LUKS_ITER_MS = 50
# LUKS creation benchmarks PBKDF2 against the thread's CPU clock; where that clock is coarse
# (some VMs) a round can measure 0 ms and qemu-img gives up: such a create is retried.
FLAKY_CLOCK = "Unable to get accurate CPU usage"


def _encrypt_opts(sid: str) -> list[str]:
    return ["-o", f"encrypt.format=luks,encrypt.key-secret={sid},encrypt.iter-time={LUKS_ITER_MS}"]


async def _retrying(make: Callable[[], Awaitable[None]], path: Path, tries: int = 8) -> None:
    for attempt in range(tries):
        try:
            await make()
            return
        except QemuError as exc:
            if FLAKY_CLOCK not in str(exc) or attempt == tries - 1:
                raise
            path.unlink(missing_ok=True)


async def create(vol: Volume, size_bytes: int) -> None:
    args = ["create", "-q", "-f", vol.format, *vol.objects("sec0")]
    if vol.key:
        args += _encrypt_opts("sec0")
    await _retrying(lambda: _run_quiet([*args, str(vol.path), str(size_bytes)]), vol.path)
    vol.path.chmod(0o600)


async def _run_quiet(args: list[str]) -> None:
    await img.run(args)


async def info(vol: Volume, in_use: bool = False) -> dict[str, Any]:
    """Header facts (no key needed); `in_use` reads an image a running QEMU holds (-U)."""
    args = ["info", "--output=json", *(["-U"] if in_use else []), "-f", vol.format, str(vol.path)]
    return dict(json.loads(await img.run(args)))


async def resize(vol: Volume, size_bytes: int) -> None:
    if vol.key:
        await img.run(["resize", "-q", *vol.objects("sec0"), "--image-opts", vol.spec("sec0"),
                       str(size_bytes)])
    else:
        await img.run(["resize", "-q", "-f", vol.format, str(vol.path), str(size_bytes)])


async def snapshot(vol: Volume, action: str, tag: str) -> None:
    """Internal qcow2 snapshot: action `create` (-c), `apply` (-a) or `delete` (-d)."""
    flag = {"create": "-c", "apply": "-a", "delete": "-d"}[action]
    # `qemu-img snapshot` has no -f: --image-opts names the format (no probing).
    await img.run(["snapshot", "-q", *vol.objects("sec0"), "--image-opts", flag, tag,
                   vol.spec("sec0")])


def snapshot_tags(meta: dict[str, Any]) -> list[str]:
    return [str(s["name"]) for s in meta.get("snapshots", [])]


async def check(vol: Volume) -> None:
    await img.run(["check", "-q", *vol.source("sec0")])


def references(meta: dict[str, Any], backing: bool = True) -> list[str]:
    """What else the image of a `qemu-img info` answer makes QEMU open, each as a phrase for
    an error ("it names a backing file (/x)"); [] for one standalone file. `backing=False`
    leaves its backing file out (a chain is walked one file at a time)."""
    found = []
    name = meta.get("full-backing-filename") or meta.get("backing-filename")
    if name and backing:
        found.append(f"it names a backing file ({name})")
    data = (meta.get("format-specific") or {}).get("data") or {}
    if data.get("data-file"):
        found.append(f"it names an external data file ({data['data-file']})")
    own = os.path.realpath(str(meta.get("filename", "")))
    for extent in data.get("extents") or []:
        name = str(extent.get("filename", ""))
        if os.path.realpath(name) != own:
            found.append(f"its vmdk extent names another file ({name})")
    return found


def _alone(vol: Volume, meta: dict[str, Any], backing_ok: bool = False) -> None:
    problems = references(meta, backing=not backing_ok)
    if meta.get("format") != vol.format:
        problems.insert(0, f"qemu-img reads it as {meta.get('format')!r}, not {vol.format}")
    if problems:
        raise LecsError(f"{vol.path} is not one standalone {vol.format} file: {problems[0]}")


async def sealed(vol: Volume, checked: bool = True) -> dict[str, Any]:
    """Prove that vol (a file lecs just made) is one standalone file: `qemu-img info` names
    nothing else and, if `checked`, `qemu-img check` passes. Returns its info."""
    meta = await info(vol)
    _alone(vol, meta)
    if checked:
        await check(vol)
    return meta


async def owned_chain(vol: Volume, owner: Path, in_use: bool = False) -> list[Path]:
    """The files of vol's backing chain, vol first, each proven a regular file under `owner`
    (LECS_HOME) with no data file nor extent of its own; a backing file must have its format
    recorded (never probed)."""
    root = os.path.realpath(owner)
    files: list[Path] = []
    current = vol
    while True:
        real = os.path.realpath(current.path)
        if os.path.commonpath([root, real]) != root or not os.path.isfile(real):
            raise LecsError(f"the chain of {vol.path} holds {current.path}, which is not a"
                            f" file of lecs's own under {owner}")
        if len(files) > 16:
            raise LecsError(f"the chain of {vol.path} is longer than 16 files")
        files.append(current.path)
        meta = await info(Volume(current.path, format=current.format), in_use)
        _alone(current, meta, backing_ok=True)
        backing = meta.get("full-backing-filename")
        if not backing:
            return files
        fmt = meta.get("backing-filename-format")
        if not fmt:
            raise LecsError(f"{current.path} names a backing file without its format")
        current = Volume(Path(backing), format=str(fmt))


async def compare(a: Volume, b: Volume) -> bool:
    """True if both volumes read the same guest-visible bytes (qemu-img compare)."""
    args = ["compare", "-q", *a.objects("sa"), *b.objects("sb")]
    if a.key or b.key:
        args += ["--image-opts", a.spec("sa"), b.spec("sb")]
    else:
        args += ["-f", a.format, "-F", b.format, str(a.path), str(b.path)]
    try:
        await img.run(args)
    except QemuError:
        return False
    return True


async def convert(
    src: Volume, dst: Volume, progress: Fraction | None = None, into_existing: bool = False,
    src_in_use: bool = False, limits: img.Limits | None = None,
) -> None:
    """Copy src's guest-visible bytes to dst: a new qcow2 (encrypted if dst has a key), or,
    with `into_existing`, over an existing volume of at least src's size (its internal
    snapshots and encryption stay). `limits` caps a qemu-img that reads an untrusted src."""
    args = ["convert", "-p", *src.objects("ss"), *dst.objects("sd")]
    if src_in_use:
        args.append("-U")
    args += ["--image-opts", src.spec("ss")] if src.key else ["-f", src.format, str(src.path)]
    if into_existing:
        args.append("-n")
        args += ["--target-image-opts", dst.spec("sd")] if dst.key else [
            "-O", dst.format, str(dst.path)]
    else:
        args += ["-O", dst.format, *(_encrypt_opts("sd") if dst.key else []), str(dst.path)]
    if dst.key and not into_existing:
        await _retrying(lambda: run_with_progress(args, progress, limits), dst.path)
    else:
        await run_with_progress(args, progress, limits)
    if not into_existing:
        dst.path.chmod(0o600)


async def run_with_progress(
    args: list[str], progress: Fraction | None, limits: img.Limits | None = None
) -> None:
    qemu_img = img.binary()  # first: a missing qemu-img is the error to tell
    argv = [*(limits.argv() if limits else []), qemu_img, *args]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=limits.env() if limits else None,
    )
    assert proc.stdout is not None and proc.stderr is not None
    err_task = asyncio.ensure_future(proc.stderr.read())
    try:
        while chunk := await proc.stdout.read(256):
            if progress and (found := PROGRESS_RE.findall(chunk)):
                progress(min(1.0, float(found[-1]) / 100))
        await proc.wait()
    except BaseException:  # cancelled: leave no qemu-img behind
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        err_task.cancel()
        raise
    err = await err_task
    if proc.returncode:
        raise img.failure(args, proc.returncode, err, limits)
