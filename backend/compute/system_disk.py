"""An instance's system disk: a blank disk for a kernel-only image, else a qcow2 overlay over
the image, grown to the size asked (whole GiB, never smaller than the image)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from backend.inventory.errors import LecsError
from backend.inventory.paths import Paths, private_dir
from backend.inventory.records import DiskState, Image

KERNEL_SYSTEM_DISK_GIB = 1


async def make_system_disk(
    paths: Paths, disk_id: str, instance_id: str, name: str, source: Image,
    disk_gib: int | None,
) -> dict[str, Any]:
    from backend.drivers.qemu import img

    private_dir(paths.disks)
    cache = private_dir(paths.home / "cache")
    path = paths.disks / f"{disk_id}.qcow2"
    if source.is_kernel and not source.path:  # kernel+initrd only: a blank disk
        size_gib = disk_gib or KERNEL_SYSTEM_DISK_GIB
        await img.create_blank_fast(path, size_gib << 30, cache / f"blank-{size_gib}g.qcow2")
        backing = None
    else:
        image_gib = max(1, -(-source.size_bytes // (1 << 30)))
        if disk_gib is not None and disk_gib < image_gib:
            raise LecsError(
                f"system disk of {disk_gib} GiB is smaller than image {source.name!r}"
                f" ({image_gib} GiB)"
            )
        backing_format = "qcow2" if source.is_kernel else source.format  # kernel + disk
        # The disk is as large as the inventory says: an image of 64 MiB gives a system
        # disk of 1 GiB (its size rounded up to whole GiB), never a smaller file.
        size_gib = disk_gib or image_gib
        grow = size_gib << 30 if size_gib << 30 > source.size_bytes else None
        if source.is_kernel and disk_gib is None:  # its size_bytes is the kernel's
            grow = None
        suffix = f"-{size_gib}g" if grow else ""
        await img.create_overlay(path, Path(source.path), backing_format,
                                 cache / f"overlay-{source.id}{suffix}.qcow2", grow)
        backing = source.id
    return {
        "id": disk_id, "name": f"{name}-system", "size_gib": size_gib, "format": "qcow2",
        "role": "system", "state": DiskState.IN_USE.value, "path": str(path),
        "instance_id": instance_id, "delete_with_instance": 1, "encrypted": 0,
        "created_at": time.time(), "backing_image_id": backing, "position": 0,
    }
