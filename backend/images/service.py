"""Images (IMS analog): disk images copied or converted into the store, or kernel+initrd pairs.

Transfers (backend/transfer.py), captured disks (backend/images/capture.py) and qemu-img
are imported on first use: keeps the dashboard's first frame quick.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backend.inventory import journal, validate
from backend.inventory.audit import Audit
from backend.inventory.errors import (
    ConflictError,
    LecsError,
    NotFoundError,
    StateError,
    ValidationError,
)
from backend.inventory.ids import new_id
from backend.inventory.journal import Journal, journaled
from backend.inventory.locks import Locks
from backend.inventory.paths import TINY, Paths, guest_dir, missing_file, private_dir
from backend.inventory.records import Image, ImageDisk, ImageState
from backend.inventory.store import Store

Progress = Callable[[float, str], None]


def _copy_hashing(src: Path, dest: Path, progress: Progress | None, label: str) -> str:
    """Copy src to dest (0600) and return the sha256 of the bytes copied."""
    digest = hashlib.sha256()
    total = max(1, src.stat().st_size)
    done = 0
    fd = os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
        while chunk := fin.read(4 << 20):
            digest.update(chunk)
            fout.write(chunk)
            done += len(chunk)
            if progress:
                progress(done / total, label)
    return digest.hexdigest()


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fin:
        while chunk := fin.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)
        dest.chmod(0o600)


def _to_image(row: dict[str, Any], disks: dict[str, list[ImageDisk]]) -> Image:
    from backend.images import capture as image_disks

    row = dict(row)
    row["state"] = ImageState(row["state"])
    row["checksum"] = image_disks.normalize_checksum(row["checksum"])
    mine = disks.get(row["id"], [])
    problem = ""
    if row["state"] is ImageState.AVAILABLE:  # checked against reality, the row unchanged
        problem = missing_file(row["path"], row["kernel"], row["initrd"], *(d.path for d in mine))
        if problem:
            row["state"] = ImageState.ERROR
    return Image(**row, disks=mine, problem=problem)


class Images:
    def __init__(self, store: Store, paths: Paths, audit: Audit, journal: Journal) -> None:
        self.journal = journal
        self.store = store
        self.paths = paths
        self.audit = audit
        self.locks = Locks(paths.runtime / "locks")  # the instances' locks (same files)

    # ---- queries -------------------------------------------------------------------
    def list(self) -> list[Image]:
        from backend.images import capture as image_disks

        disks = image_disks.load(self.store)
        return [_to_image(r, disks) for r in self.store.rows("SELECT * FROM images ORDER BY name")]

    def get(self, ref: str) -> Image:
        from backend.images import capture as image_disks

        row = self.store.row("SELECT * FROM images WHERE id = ? OR name = ?", [ref, ref])
        if row is None:
            raise NotFoundError(f"image {ref!r} not found")
        return _to_image(row, image_disks.load(self.store, row["id"]))

    def _check_new_name(self, name: str) -> None:
        validate.name(name, "image name")
        if self.store.row("SELECT id FROM images WHERE name = ?", [name]):
            raise ConflictError(f"an image named {name!r} exists already")

    # ---- import --------------------------------------------------------------------
    @journaled("image.import")
    async def import_disk(
        self, path: str | Path, name: str, os_name: str = "", progress: Progress | None = None,
        fmt: str | None = None, login_user: str = "root",
    ) -> Image:
        """Import a disk image file: `fmt` (qcow2, raw, vmdk, …) or sniffed by its magic; the
        file is untrusted input, admitted only as one standalone file
        (backend/images/inspect.py). `login_user`: who its guest lets in over ssh."""
        from backend.images import inspect, intake

        params = {"path": str(path), "name": name, "format": fmt, "login_user": login_user}
        with self.audit.track("image.import", name, params) as t:
            self._check_new_name(name)
            validate.name(login_user, "login user")
            src = validate.existing_file(path, "image file")
            fmt = inspect.check_format(fmt)
            image_id = new_id("img")
            t.resource = image_id
            journal.effect("image.purge", image=image_id)  # before its dir exists
            dest_dir = private_dir(self.paths.images / image_id)
            try:  # the checksum: the BLAKE3 of the file imported (`blake3:<hex>`)
                checksum, fmt, dest, size = await intake.import_file(src, fmt, dest_dir, name,
                                                                     progress)
                image = Image(
                    id=image_id, name=name, format=fmt, size_bytes=size, os=os_name,
                    source=f"imported:{src}", checksum=checksum, state=ImageState.AVAILABLE,
                    created_at=time.time(), path=str(dest), login_user=login_user,
                )
                self._insert(image)
            except BaseException:
                shutil.rmtree(dest_dir, ignore_errors=True)
                raise
            return image

    @journaled("image.import")
    async def import_kernel(
        self,
        kernel: str | Path,
        initrd: str | Path,
        name: str,
        cmdline: str = "console=ttyS0 panic=-1 quiet",
        os_name: str = "",
        source: str | None = None,
        checksum: str | None = None,
        link: bool = False,
        login_user: str = "root",
    ) -> Image:
        from backend.images import capture as image_disks

        params = {"kernel": str(kernel), "initrd": str(initrd), "cmdline": cmdline, "name": name,
                  "login_user": login_user}
        with self.audit.track("image.import", name, params) as t:
            self._check_new_name(name)
            validate.name(login_user, "login user")
            k_src = validate.existing_file(kernel, "kernel")
            i_src = validate.existing_file(initrd, "initrd")
            if len(cmdline) > 2048 or "\n" in cmdline:
                raise ValidationError("kernel command line must be one line under 2048 chars")
            image_id = new_id("img")
            t.resource = image_id
            journal.effect("image.purge", image=image_id)  # before its dir exists
            dest_dir = private_dir(self.paths.images / image_id)
            k_dest, i_dest = dest_dir / "kernel", dest_dir / "initrd"
            try:
                if link:
                    await asyncio.to_thread(_link_or_copy, k_src, k_dest)
                    await asyncio.to_thread(_link_or_copy, i_src, i_dest)
                if not checksum:
                    if not link:
                        k_sum = await asyncio.to_thread(_copy_hashing, k_src, k_dest, None, name)
                        i_sum = await asyncio.to_thread(_copy_hashing, i_src, i_dest, None, name)
                    else:
                        k_sum = await asyncio.to_thread(_hash, k_dest)
                        i_sum = await asyncio.to_thread(_hash, i_dest)
                    checksum = hashlib.sha256((k_sum + i_sum).encode()).hexdigest()
                elif not link:
                    await asyncio.to_thread(_link_or_copy, k_src, k_dest)
                    await asyncio.to_thread(_link_or_copy, i_src, i_dest)
                # a kernel pair's checksum: sha256 over its two files' sha256 hex digests
                checksum = image_disks.normalize_checksum(checksum)
                image = Image(
                    id=image_id, name=name, format="kernel",
                    size_bytes=k_dest.stat().st_size + i_dest.stat().st_size, os=os_name,
                    source=source or f"imported:{k_src}", checksum=checksum,
                    state=ImageState.AVAILABLE, created_at=time.time(), kernel=str(k_dest),
                    initrd=str(i_dest), cmdline=cmdline, login_user=login_user,
                )
                self._insert(image)
            except BaseException:
                shutil.rmtree(dest_dir, ignore_errors=True)
                raise
            return image

    async def import_url(
        self, url: str, name: str, os_name: str = "", checksum: str | None = None,
        progress: Progress | None = None, fmt: str | None = None, login_user: str = "root",
    ) -> Image:
        """Download an http(s) image (cancellable; see backend/images/transfer.py). The
        journal names it by its public URL: a signed URL's secret is never written."""
        from backend.images import transfer

        async with self.journal.operation("image.import", transfer.public_url(url)):
            return await transfer.import_url(self, url, name, os_name, checksum, progress, fmt,
                                             login_user)

    @journaled("image.create-from-instance")
    async def create_from_instance(
        self, instance: str, name: str, progress: Progress | None = None, full: bool = False
    ) -> Image:
        """An image of a stopped instance's system disk, with `full` its data disks too
        (see backend/transfer.py and backend/images/capture.py)."""
        from backend.images import transfer

        return await transfer.create_from_instance(self, instance, name, progress, full)

    def _insert(self, image: Image) -> None:
        row = {
            "id": image.id, "name": image.name, "format": image.format,
            "size_bytes": image.size_bytes, "os": image.os, "source": image.source,
            "checksum": image.checksum, "state": image.state.value,
            "created_at": image.created_at, "path": image.path, "kernel": image.kernel,
            "initrd": image.initrd, "cmdline": image.cmdline, "login_user": image.login_user,
        }
        with self.store.transaction() as db:
            db.table("images").insert(row)

    async def ensure_tiny(self) -> Image | None:
        """Register the tiny guest built by sample_data/build_guest.py as image `tiny`."""
        if self.store.row("SELECT id FROM images WHERE name = ?", [TINY]):
            return None
        # First use, perhaps by many processes at once: one registers it, the others wait.
        async with self.locks.hold("first-use"):
            if self.store.row("SELECT id FROM images WHERE name = ?", [TINY]):
                return None
            try:
                return await self._register_tiny()
            except OSError as exc:  # a full or read-only disk: the journal took the files back
                why = exc.strerror or str(exc)
                full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
                raise LecsError(f"cannot register the tiny guest under {self.paths.home}: "
                                f"{why[:1].lower()}{why[1:]}"
                                + (" (free some space and retry)" if full else "")) from None

    async def _register_tiny(self) -> Image | None:
        directory = guest_dir()
        manifest_path = directory / "manifest.json"
        if not manifest_path.exists():
            return None
        manifest = json.loads(manifest_path.read_text())
        sums = manifest.get("sha256", {})
        checksum = hashlib.sha256(
            (sums.get(manifest["kernel"], "") + sums.get(manifest["initrd"], "")).encode()
        ).hexdigest() if sums else None
        return await self.import_kernel(
            directory / manifest["kernel"], directory / manifest["initrd"], TINY,
            cmdline=manifest.get("cmdline", "console=ttyS0 panic=-1 quiet"),
            os_name=f"busybox tiny guest (Linux {manifest.get('kernel_version', '?')})",
            source="sample_data/build_guest.py", checksum=checksum, link=True,
        )

    # ---- delete --------------------------------------------------------------------
    def delete(self, ref: str) -> None:
        from backend.images import capture as image_disks

        with self.audit.track("image.delete", ref) as t:
            image = self.get(ref)
            t.resource = image.id
            if image.state is ImageState.CREATING:
                raise StateError(f"cannot delete image {image.name!r}: it is creating"
                                 " (delete needs available or error)")
            users = self.store.rows(
                "SELECT name FROM instances WHERE image_id = ? UNION "
                "SELECT name FROM disks WHERE backing_image_id = ?",
                [image.id, image.id],
            )
            if users:
                names = ", ".join(sorted(u["name"] for u in users))
                raise ConflictError(f"image {image.name!r} is in use by {names}")
            with self.journal.sync_operation("image.delete", image.id) as op:
                # Killed after the row went, recovery removes the files (image.purge).
                op.effect("image.purge", image=image.id)
                with self.store.transaction() as db:  # image_disks rows go too (cascade)
                    db.table("images").delete(image.id)
                op.step("row")
                shutil.rmtree(self.paths.images / image.id, ignore_errors=True)
            image_disks.remove_keys(self.paths, image.id)
            for template in (self.paths.home / "cache").glob(f"overlay-*{image.id}*"):
                template.unlink(missing_ok=True)
