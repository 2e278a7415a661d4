"""Full-instance images: the disks an image captures from an instance, and the disks it gives.

Capture (`image create-from-instance --full`, instance stopped): the system disk and every
attached data disk, in bus order, are flattened by `qemu-img convert` into standalone qcow2
files under `$LECS_HOME/images/img-…/` (`disk.qcow2`, `data-1.qcow2`, …), each with its
checksum (`blake3:<hex>`, see `file_checksum`) recorded in `image_disks`; each source's
backing chain is proven to hold only lecs's own files first, and each copy to be one
standalone file after (`volume.owned_chain`, `volume.sealed`). Create
(`instance create --image FULL`): the system disk and one data disk per captured data disk,
attached in the same order, deleted with the instance by default.

Encrypted data disks are *re-encrypted*, never decrypted. Their image copy is LUKS qcow2
under a new key of the image's own (`img-….d-…` in the key store), so what was encrypted at
rest stays so in the image, and the image does not share key material with the disk it
came from (deleting or re-keying that disk leaves the image readable, and one leaked key
opens one copy). An instance made from the image gets an encrypted data disk with its own
new key too: that disk is a full `qemu-img convert` copy, not an overlay, because an
overlay on an encrypted backing file needs the backing's secret on every open (QEMU start,
hot attach, resize, snapshot, backup, check), and every disk in lecs is one file with one
key. Plain data disks are copy-on-write overlays on the image file, made in O(1) from a
template like the system disk (`img.create_overlay`), so they pin the image
(`backing_image_id`) until deleted.

Listing images reads only `load`; BLAKE3, the key store and qemu-img are imported on first
use: keeps the dashboard's first frame quick.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.inventory.errors import ConflictError
from backend.inventory.ids import new_id
from backend.inventory.paths import Paths, private_dir
from backend.inventory.records import DiskState, Image, ImageDisk

if TYPE_CHECKING:
    from backend.inventory.store import Store

Progress = Callable[[float, str], None]
GIB = 1 << 30


def key_id(image_id: str, source_disk_id: str) -> str:
    """The key-store id of an encrypted disk captured in an image."""
    return f"{image_id}.{source_disk_id}"


def gib(size_bytes: int) -> int:
    return max(1, -(-size_bytes // GIB))


def file_checksum(path: Path) -> str:
    """The checksum lecs records for an image file: `blake3:<hex>`.

    BLAKE3 over an mmap of the file, on every core: ~10x single-threaded sha256 here, so
    hashing an import no longer outlasts the copy it runs alongside (bench/storage.py).
    Older rows hold a plain sha256 hex digest; `normalize_checksum` labels those."""
    import blake3

    return "blake3:" + blake3.blake3(max_threads=blake3.blake3.AUTO).update_mmap(
        str(path)).hexdigest()


def normalize_checksum(value: str | None) -> str:
    """A stored checksum as `<algorithm>:<hex>`: rows written before BLAKE3 hold a bare
    sha256 hex digest, shown as `sha256:<hex>`; "" (none recorded) stays ""."""
    if value and ":" not in value:
        return f"sha256:{value}"
    return value or ""


def _labelled(progress: Progress | None, label: str) -> Callable[[float], None] | None:
    if progress is None:
        return None
    return lambda fraction: progress(fraction, label)


def _disk(row: dict[str, Any]) -> ImageDisk:
    return ImageDisk(
        position=row["position"], role=row["role"], path=row["path"], size_gib=row["size_gib"],
        virtual_size=row["virtual_size"], format=row["format"],
        encrypted=bool(row["encrypted"]), checksum=normalize_checksum(row["checksum"]),
        source_disk_id=row["source_disk_id"], source_disk_name=row["source_disk_name"],
    )


def load(store: Store, image_id: str | None = None) -> dict[str, list[ImageDisk]]:
    """The captured disks of one image (or all images), keyed by image id, in order."""
    sql, params = "SELECT * FROM image_disks", []
    if image_id is not None:
        sql, params = sql + " WHERE image_id = ?", [image_id]
    found: dict[str, list[ImageDisk]] = {}
    for row in store.rows(sql + " ORDER BY image_id, position", params):
        found.setdefault(row["image_id"], []).append(_disk(row))
    return found


async def describe(
    image_id: str, path: Path, position: int, source: dict[str, Any], encrypted: bool
) -> dict[str, Any]:
    """The `image_disks` row of a captured file (its header needs no key)."""
    from backend.drivers.qemu import volume
    from backend.drivers.qemu.volume import Volume

    size = int((await volume.info(Volume(path)))["virtual-size"])
    return {
        "image_id": image_id, "position": position,
        "role": "system" if position == 0 else "data", "path": str(path),
        "size_gib": gib(size), "virtual_size": size, "format": "qcow2",
        "encrypted": int(encrypted), "checksum": await asyncio.to_thread(file_checksum, path),
        "source_disk_id": source["id"], "source_disk_name": source["name"],
    }


async def capture_data(
    paths: Paths, image_id: str, directory: Path, sources: list[dict[str, Any]],
    progress: Progress | None,
) -> list[dict[str, Any]]:
    """Flatten the instance's data disks (rows in bus order) into the image's directory."""
    from backend.drivers.qemu import volume
    from backend.drivers.qemu.volume import Volume
    from backend.storage.keystore import KeyStore

    keys = KeyStore(paths)
    captured = []
    for n, src in enumerate(sources, start=1):
        label = f"data disk {n}/{len(sources)} ({src['name']})"
        dest = directory / f"data-{n}.qcow2"
        encrypted = bool(src["encrypted"])
        source = Volume(Path(src["path"]), keys.require(src["id"]) if encrypted else None,
                        src["format"])
        target = Volume(dest, keys.create(key_id(image_id, src["id"])) if encrypted else None)
        await volume.owned_chain(source, paths.home)  # the copy reads only lecs's own files
        await volume.convert(source, target, _labelled(progress, label))
        await volume.sealed(target)  # and is one standalone file
        captured.append(await describe(image_id, dest, n, src, encrypted))
        if progress:
            progress(1.0, label)
    return captured


def remove_keys(paths: Paths, image_id: str) -> None:
    """Drop the keys of an image's encrypted disks (on delete, or a failed capture)."""
    from backend.storage.keystore import KeyStore

    keys = KeyStore(paths)
    for kid in keys.ids():
        if kid.startswith(f"{image_id}."):
            keys.remove(kid)


# ---- instances from a full-instance image ----------------------------------------------
def data_disk_name(instance: str, position: int) -> str:
    return f"{instance}-data{position}"


def check_names(store: Store, instance: str, image: Image) -> None:
    """Refuse up front if a disk the new instance needs is named already."""
    wanted = [f"{instance}-system"] + [data_disk_name(instance, d.position)
                                       for d in image.data_disks]
    taken = store.rows(f"SELECT name FROM disks WHERE name IN ({','.join('?' * len(wanted))})",
                       wanted)
    if taken:
        raise ConflictError(f"a disk named {taken[0]['name']!r} exists already (instance"
                            f" {instance!r} needs that name for its disk)")


async def make_data_disks(
    paths: Paths, instance_id: str, instance: str, image: Image, made: list[dict[str, Any]],
    ids: list[str] | None = None,
) -> None:
    """Make one data disk per captured data disk; appends each `disks` row to `made` before
    its file exists, so a caller's cleanup (`remove_files`) also covers a half-made one."""
    from backend.drivers.qemu import img, volume
    from backend.drivers.qemu.volume import Volume
    from backend.storage.keystore import KeyStore

    keys = KeyStore(paths)
    cache = private_dir(paths.home / "cache")
    for n, d in enumerate(image.data_disks):
        disk_id = ids[n] if ids else new_id("d")
        path = private_dir(paths.disks) / f"{disk_id}.qcow2"
        made.append({
            "id": disk_id, "name": data_disk_name(instance, d.position), "size_gib": d.size_gib,
            "format": "qcow2", "role": "data", "state": DiskState.IN_USE.value,
            "path": str(path), "instance_id": instance_id, "delete_with_instance": 1,
            "encrypted": int(d.encrypted), "created_at": time.time(),
            "backing_image_id": None if d.encrypted else image.id, "position": d.position,
        })
        if d.encrypted:  # a copy under the disk's own new key (why: see the module doc)
            source = Volume(Path(d.path), keys.require(key_id(image.id, d.source_disk_id)))
            await volume.convert(source, Volume(path, keys.create(disk_id)))
        else:
            await img.create_overlay(path, Path(d.path), d.format,
                                     cache / f"overlay-{image.id}-{d.position}.qcow2")


def remove_files(paths: Paths, made: list[dict[str, Any]]) -> None:
    from backend.storage.keystore import key_path

    for row in made:
        Path(row["path"]).unlink(missing_ok=True)
        if row["encrypted"]:
            key_path(paths, row["id"]).unlink(missing_ok=True)
