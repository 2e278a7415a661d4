"""`lecs instance clone NAME NEW [--count N] [--tag k=v] [--start]`: new instances made from
one, each with disks of its own, new ids and host ports, the same type, image, security
groups, key pair, user-data and tags (`--tag` overrides). A clone's hostname is its own name.

Disks: a disk over an image (the usual system disk) is copied as an overlay on that same
image (copy-on-write: only what the instance changed is copied); a disk with no backing is
a sparse full copy; internal snapshots are not copied. A stopped source is copied with
`qemu-img convert`. A running one is copied live and crash-consistent across all its disks:
one QMP transaction of `blockdev-backup` jobs (sync=top into targets on the same backing,
else sync=full) takes every disk at the same instant; more clones are then copied from the
first. Encrypted disks are refused (a clone would need keys of its own: not yet).

Journal: one `instance.purge` effect per clone before its files exist, and for a live copy
`instance.clone-jobs` before its jobs start; a killed clone is rolled back whole (the
source's jobs cancelled and its target nodes closed, the clones' files, rows, seeds).
Clones are created stopped; `--start` starts them afterwards, each its own operation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.compute import bulk
from backend.compute.guard import guarded
from backend.compute.records import Instance
from backend.inventory import journal, validate
from backend.inventory.errors import ConflictError, LecsError
from backend.inventory.ids import new_id
from backend.inventory.records import DiskState
from backend.inventory.records import InstanceState as S

if TYPE_CHECKING:
    from backend.compute.instances import Instances

Plan = list[tuple[str, dict[str, Any]]]  # (new disk id, the source disk's row)
JOBS = "instance.clone-jobs"  # effect: live copy jobs running in the source's QEMU


def _disk_name(clone: str, role: str, position: int) -> str:
    return f"{clone}-system" if role == "system" else f"{clone}-data{position}"


async def clone(inst: Instances, ref: str, new: str, count: int | None = None,
                tags: dict[str, str] | None = None, start: bool = False) -> list[Instance]:
    names = bulk.names_for(new, count) if count is not None else [
        validate.name(new, "instance name")]
    params = {"names": names, "tags": tags or {}}
    async with guarded(inst, "clone", ref, params) as g:
        src = g.row
        disks = inst.store.rows("SELECT * FROM disks WHERE instance_id = ? ORDER BY position",
                                [src["id"]])
        _check(inst, src, disks, names)
        ids = [new_id("i") for _ in names]
        plans: list[Plan] = [[(new_id("d"), d) for d in disks] for _ in names]
        for cid, plan in zip(ids, plans, strict=True):  # before any file exists
            g.op.effect("instance.purge", instance=cid, disks=[d for d, _ in plan],
                        files=[str(_path(inst, d)) for d, _ in plan])
        live = g.state is S.RUNNING
        try:
            await _copy_first(inst, src["id"], plans[0], live)
            for plan in plans[1:]:
                await _copy_from(inst, plans[0], plan)
            journal.step("disks")
            for cid, cname, plan in zip(ids, names, plans, strict=True):
                _insert(inst, src, cid, cname, plan, tags or {})
        except BaseException:
            for plan in plans:
                for disk_id, _ in plan:
                    _path(inst, disk_id).unlink(missing_ok=True)
            raise
        g.audit.parameters["clones"] = ids
    if start:
        for cid in ids:
            await inst.start(cid)
    return [inst.get(cid, reconcile=False) for cid in ids]


def _check(inst: Instances, src: dict[str, Any], disks: list[dict[str, Any]],
           names: list[str]) -> None:
    for d in disks:
        if d["encrypted"]:
            raise LecsError(f"cannot clone instance {src['name']!r}: disk {d['name']!r} is"
                            " encrypted (a clone would need keys of its own; not supported)")
    for cname in names:
        if inst.store.row("SELECT id FROM instances WHERE name = ?", [cname]):
            raise ConflictError(f"an instance named {cname!r} exists already")
        for d in disks:
            wanted = _disk_name(cname, d["role"], d["position"] or 0)
            if inst.store.row("SELECT id FROM disks WHERE name = ?", [wanted]):
                raise ConflictError(f"a disk named {wanted!r} exists already (clone"
                                    f" {cname!r} needs that name)")


def _path(inst: Instances, disk_id: str) -> Path:
    return inst.paths.disks / f"{disk_id}.qcow2"


async def _backing(path: str, shared: bool) -> tuple[str, str]:
    """(backing file, its format) of a disk, or ("", "") for a standalone one."""
    from backend.drivers.qemu import img

    meta = await img.info(Path(path), shared=shared, fmt="qcow2")
    return (str(meta.get("full-backing-filename") or meta.get("backing-filename") or ""),
            str(meta.get("backing-filename-format") or ""))


async def _convert(source: str, target: Path, shared: bool) -> None:
    from backend.drivers.qemu import img
    from backend.inventory.paths import private_dir

    private_dir(target.parent)
    backing, fmt = await _backing(source, shared)
    chain = ["-B", backing, "-F", fmt] if backing else []
    await img.run(["convert", *(["-U"] if shared else []), "-q", "-f", "qcow2", "-O", "qcow2",
                   *chain, source, str(target)])
    target.chmod(0o600)


async def _copy_first(inst: Instances, instance_id: str, plan: Plan, live: bool) -> None:
    if not live:
        for disk_id, d in plan:
            await _convert(d["path"], _path(inst, disk_id), shared=False)
        return
    from backend.drivers.qemu import img
    from backend.drivers.qemu.argv import DriveSpec
    from backend.drivers.qemu.blockdev import BackupPair

    pairs = []
    for disk_id, d in plan:
        target = _path(inst, disk_id)
        meta = await img.info(Path(d["path"]), shared=True, fmt="qcow2")
        size = str(int(meta["virtual-size"]))
        backing, fmt = await _backing(d["path"], shared=True)
        chain = ["-b", backing, "-F", fmt] if backing else []
        await img.run(["create", "-q", "-f", "qcow2", *chain, str(target), size])
        target.chmod(0o600)
        pairs.append(BackupPair(d["id"], DriveSpec(node=f"t-{d['id']}", path=str(target)),
                                sync="top" if backing else "full"))
    # Before the jobs start: recovery cancels them and closes their targets in the source.
    journal.effect(JOBS, instance=instance_id, disks=[d["id"] for _, d in plan])
    await inst.driver.backup_disks(instance_id, pairs, None)


async def abort_jobs(inst: Instances, action: str, data: dict[str, Any]) -> None:
    """Recovery of a killed live clone: the source's copy jobs and target nodes go."""
    from backend.drivers.qemu.process import Liveness

    instance_id = str(data["instance"])
    row = inst.store.row("SELECT pid FROM instances WHERE id = ?", [instance_id])
    if row is None:
        return
    live, _pid = inst.driver.liveness(instance_id, row["pid"])
    if live is Liveness.ALIVE:
        await inst.driver.abort_backup(instance_id, [str(d) for d in data["disks"]])


async def _copy_from(inst: Instances, first: Plan, plan: Plan) -> None:
    for (made, _), (disk_id, _) in zip(first, plan, strict=True):
        await _convert(str(_path(inst, made)), _path(inst, disk_id), shared=False)


def _insert(inst: Instances, src: dict[str, Any], cid: str, cname: str, plan: Plan,
            overrides: dict[str, str]) -> None:
    import time

    view = inst.get(src["id"], reconcile=False)
    image = inst.images.get(src["image_id"])
    net = inst.net.prepare(cid, cname, view.security_groups or None, view.key_pair or None,
                           src.get("user_data") or None, None, view.network or None,
                           disk_image=not image.is_kernel)
    tags = {**view.tags, **overrides}
    now = time.time()
    try:
        with inst.store.transaction() as db:
            db.table("instances").insert({
                "id": cid, "name": cname, "type": src["type"], "image_id": src["image_id"],
                "state": S.STOPPED.value, "created_at": now, "started_at": None, "pid": None,
                "accel": src["accel"], "last_error": "", **net.instance_fields,
            })
            db.table("disks").insert_all([{
                "id": disk_id, "name": _disk_name(cname, d["role"], d["position"] or 0),
                "size_gib": d["size_gib"], "format": "qcow2", "role": d["role"],
                "state": DiskState.IN_USE.value, "path": str(_path(inst, disk_id)),
                "instance_id": cid, "delete_with_instance": d["delete_with_instance"],
                "encrypted": 0, "created_at": now, "backing_image_id": d["backing_image_id"],
                "position": d["position"],
            } for disk_id, d in plan])
            net.insert(db)
            if tags:
                db.table("tags").insert_all([{"resource_id": cid, "key": k, "value": v}
                                             for k, v in tags.items()])
    except BaseException:
        net.discard()
        raise
