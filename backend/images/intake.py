"""Image files coming in: a local file or a download, admitted and made the image's one file.

What is kept is only what `inspect.admit` let in, read from a file nobody else can change
under the checks:
- a file some other user could write (group/other write bits, another owner) is copied into
  the image's own 0700 directory first and the copy admitted (`store`); so is a download;
- a file only lecs's user can write is admitted where it lies, read through a descriptor
  held open (`/proc/PID/fd/N`: that very inode, whatever happens to its name), and refused
  if it changed by the end (inode, size, mtime, ctime). A qcow2 or raw is copied while it
  is checked; any other format is converted to qcow2 straight from it. No step waits for
  another, so an import costs what the copy or `qemu-img convert` costs.
Converted results are proven one standalone qcow2 (`inspect.seal`); a kept qcow2 or raw is
the very file admitted. Checksums are the BLAKE3 of the bytes imported, hashed alongside.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backend.drivers.qemu import img, volume
from backend.drivers.qemu.volume import Volume
from backend.images import capture as image_disks
from backend.images import inspect
from backend.inventory import journal
from backend.inventory.errors import ValidationError

Progress = Callable[[float, str], None]


def _kernel_copy(src: Path, dest: Path, progress: Progress | None, label: str) -> None:
    """Copy with copy_file_range (no bytes through Python; a reflink where the fs can)."""
    fd_out = os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        with open(src, "rb") as fin:
            total = os.fstat(fin.fileno()).st_size
            done = 0
            while done < total:
                try:
                    copied = os.copy_file_range(fin.fileno(), fd_out, min(64 << 20, total - done))
                except OSError:  # across filesystems on old kernels: plain copy the rest
                    fin.seek(done)
                    copied = os.write(fd_out, fin.read(64 << 20))
                if copied == 0:
                    break
                done += copied
                if progress:
                    progress(done / total, label)
    finally:
        os.close(fd_out)


async def copy_hashing(src: Path, dest: Path, progress: Progress | None, label: str) -> str:
    """Copy src to dest (0600) and return src's checksum (`blake3:<hex>`); the hash runs on
    another thread (blake3 drops the GIL, and reads src from the page cache) while the
    kernel copies, so the two overlap and the copy sets the pace."""
    digest, _ = await asyncio.gather(asyncio.to_thread(image_disks.file_checksum, src),
                                     asyncio.to_thread(_kernel_copy, src, dest, progress, label))
    if progress:
        progress(1.0, label)
    return digest


async def store(
    upload: Path, fmt: str | None, directory: Path, name: str, progress: Progress | None
) -> tuple[str, Path, int]:
    """Admit `upload` (a file in the image's own directory) as image `name` and make it the
    image's one file: qcow2 and raw as they are, any other format converted to qcow2 (under
    resource limits) and proven standalone. Returns (format, path, virtual size). Refused
    (backend/images/inspect.py): the upload is left for the caller to discard."""
    fmt, meta = await inspect.admit(upload, fmt, name)
    if fmt in inspect.KEPT:  # the file admitted is the file kept: its admission seals it
        final = directory / f"disk.{fmt}"
        os.replace(upload, final)
        return fmt, final, int(meta["virtual-size"])
    final = directory / "disk.qcow2"
    await _convert(upload, fmt, final, progress)
    upload.unlink()
    meta = await inspect.seal(Volume(final), name)
    return "qcow2", final, int(meta["virtual-size"])


async def _convert(src: Path, fmt: str, final: Path, progress: Progress | None) -> None:
    await volume.convert(Volume(src, format=fmt), Volume(final),
                         lambda f: progress(f, "convert") if progress else None,
                         limits=img.CONVERT)


def _only_ours(st: os.stat_result) -> bool:
    """Only lecs's user (and root) can write the file: owned by it, no group/other write."""
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


async def import_file(
    src: Path, fmt: str | None, directory: Path, name: str, progress: Progress | None
) -> tuple[str, str, Path, int]:
    """A local file as image `name`, into its `directory`: returns (checksum, format, path,
    virtual size); see the module's doc for which files are copied before their checks."""
    fd = os.open(src, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO would block
    with os.fdopen(fd, "rb") as held:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise ValidationError(f"image file {str(src)!r} is not a regular file")
        view = Path(f"/proc/{os.getpid()}/fd/{held.fileno()}")  # this inode, whatever its name
        if not _only_ours(before):
            upload = directory / "upload.part"
            checksum = await copy_hashing(view, upload, progress, name)
            journal.step("copied")
            return (checksum, *await store(upload, fmt, directory, name, progress))
        sniffed = fmt or inspect.sniff(view)
        final = directory / (f"disk.{sniffed}" if sniffed in inspect.KEPT else "disk.qcow2")
        if sniffed in inspect.KEPT:  # the checks run alongside the copy, on the same inode
            upload = directory / "upload.part"
            copied, admitted = await asyncio.gather(
                copy_hashing(view, upload, progress, name), _admit(view, fmt, name, src),
                return_exceptions=True)  # both end before anything is removed
            for outcome in (admitted, copied):
                if isinstance(outcome, BaseException):
                    raise outcome
            assert isinstance(copied, str) and isinstance(admitted, tuple)
            checksum, (sniffed, meta) = copied, admitted
            final = directory / f"disk.{sniffed}"
        else:
            sniffed, _meta = await _admit(view, fmt, name, src)
            checksum, _ = await asyncio.gather(
                asyncio.to_thread(image_disks.file_checksum, view),
                _convert(view, sniffed, final, progress))
        journal.step("copied")
        if _stamp(os.fstat(held.fileno())) != _stamp(before):
            raise inspect.refused(name, f"{src} changed while it was imported")
    if progress:
        progress(1.0, name)
    if sniffed in inspect.KEPT:  # the very bytes admitted: their admission seals them
        os.replace(upload, final)
        return checksum, sniffed, final, int(meta["virtual-size"])
    meta = await inspect.seal(Volume(final), name)
    return checksum, "qcow2", final, int(meta["virtual-size"])


async def _admit(
    view: Path, fmt: str | None, name: str, src: Path
) -> tuple[str, dict[str, Any]]:
    try:
        return await inspect.admit(view, fmt, name)
    except inspect.Refused as exc:  # say the user's path, not the descriptor's
        raise inspect.Refused(str(exc).replace(str(view), str(src))) from None
