"""Disks (EVS) and their snapshots: Create/Describe/Attach/Detach/Resize/Delete/ModifyDisk-
Attribute; CreateSnapshot, DescribeSnapshots, DeleteSnapshot, ResetDisk."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from backend.api import shapes
from backend.api.actions.instances import find as find_instance
from backend.api.errors import ApiError, invalid_parameter
from backend.api.params import Params
from backend.api.registry import Call, action
from backend.api.translate import engine, settle

if TYPE_CHECKING:
    from backend.cloud import Cloud
    from backend.inventory.records import Disk
    from backend.storage.records import Snapshot

PAGING = ("PageNumber", "PageSize", "NextToken", "MaxResults")


def find_disk(cloud: Cloud, ref: str) -> Disk:
    with engine("disk"):
        disk = cloud.disks.get(ref)
    if disk.id != ref:
        raise ApiError("InvalidDiskId.NotFound", f"The specified DiskId {ref!r} does not"
                       " exist.", 404)
    return disk


def find_snapshot(cloud: Cloud, ref: str) -> Snapshot:
    with engine("snapshot"):
        snap = cloud.snapshots.get(ref)
    if snap.id != ref:
        raise ApiError("InvalidSnapshotId.NotFound", f"The specified SnapshotId {ref!r} does"
                       " not exist.", 404)
    return snap


@action("CreateDisk", params=("RegionId", "ZoneId", "DiskName", "Size", "DiskCategory",
                              "Encrypted", "Description", "ClientToken", "DryRun",
                              "Tag.*.Key", "Tag.*.Value"))
async def create_disk(call: Call) -> dict[str, Any]:
    p = Params(call)
    p.region()
    p.zone()
    p.only("DiskCategory", shapes.DISK_CATEGORY)
    p.only("Description", "")
    if p.tags():
        raise invalid_parameter("Tag.1.Key", "cannot be honoured: lecs tags instances only")
    name = p.text("DiskName", max_len=128) or f"disk-{secrets.token_hex(4)}"
    size = p.integer("Size", required=True, low=1, high=16384) or 1
    encrypted = p.flag("Encrypted")
    p.done(dry_run=True)
    with engine("disk"):
        disk = await call.cloud.disks.create(name, size, encrypted=encrypted)
    return {"DiskId": disk.id, "OrderId": ""}


@action("DescribeDisks", params=("RegionId", "ZoneId", "DiskIds", "InstanceId", "DiskType",
                                 "Status", "DiskName", "DryRun", *PAGING))
async def describe_disks(call: Call) -> dict[str, Any]:
    p = Params(call)
    p.region()
    p.zone()
    ids = p.json_list("DiskIds")
    instance = p.text("InstanceId")
    role = p.choice("DiskType", ("all", "system", "data"), "all")
    status = p.choice("Status", ("In_use", "Available", "Creating", "Error", "All"), "All")
    name = p.text("DiskName")
    disks = call.cloud.disks.list()
    chosen = [d for d in disks
              if (ids is None or d.id in ids) and (not instance or d.instance_id == instance)
              and role in ("all", d.role) and (not name or d.name == name)
              and status in ("All", shapes.disk(d)["Status"])]
    chosen.sort(key=lambda d: (-d.created_at, d.id))
    items, paging = shapes.page(p, chosen, most=100)
    p.done(dry_run=True)
    return {**paging, "Disks": {"Disk": [shapes.disk(d) for d in items]}}


@action("AttachDisk", params=("RegionId", "InstanceId", "DiskId", "DeleteWithInstance",
                              "Bootable"))
async def attach_disk(call: Call) -> dict[str, Any]:
    p = Params(call)
    disk = find_disk(call.cloud, p.need("DiskId"))
    inst = find_instance(call.cloud, p.need("InstanceId"))
    with_instance = p.flag("DeleteWithInstance") if p.has("DeleteWithInstance") else None
    p.only("Bootable", "false")
    p.done()
    await settle(call.cloud.disks.attach(disk.id, inst.id, with_instance), "disk")
    return {}


@action("DetachDisk", params=("RegionId", "InstanceId", "DiskId", "DeleteWithInstance"))
async def detach_disk(call: Call) -> dict[str, Any]:
    p = Params(call)
    disk = find_disk(call.cloud, p.need("DiskId"))
    inst = find_instance(call.cloud, p.need("InstanceId"))
    p.only("DeleteWithInstance", "false")
    p.done()
    if disk.instance_id != inst.id:
        raise ApiError("IncorrectDiskStatus", f"disk {disk.name!r} is not attached to"
                       f" {inst.id}.", 403)
    # A guest takes its time to let go of a disk: answered while it is still detaching.
    await settle(call.cloud.disks.detach(disk.id), "disk")
    return {}


@action("ResizeDisk", params=("RegionId", "DiskId", "NewSize", "Type", "ClientToken"))
async def resize_disk(call: Call) -> dict[str, Any]:
    p = Params(call)
    disk = find_disk(call.cloud, p.need("DiskId"))
    size = p.integer("NewSize", required=True, low=1, high=16384) or 1
    p.choice("Type", ("offline", "online"))
    p.done()
    with engine("disk"):
        await call.cloud.disks.resize(disk.id, size)
    return {"OrderId": ""}


@action("DeleteDisk", params=("RegionId", "DiskId",))
async def delete_disk(call: Call) -> dict[str, Any]:
    p = Params(call)
    disk = find_disk(call.cloud, p.need("DiskId"))
    p.done()
    if disk.instance_id:
        raise ApiError("IncorrectDiskStatus", f"disk {disk.name!r} is In_use: detach it"
                       " first.", 403)
    with engine("disk"):
        await call.cloud.disks.delete(disk.id)
    return {}


@action("ModifyDiskAttribute", params=("RegionId", "DiskId", "DeleteWithInstance", "DiskName",
                                       "Description"))
async def modify_disk_attribute(call: Call) -> dict[str, Any]:
    p = Params(call)
    disk = find_disk(call.cloud, p.need("DiskId"))
    for name, current in (("DiskName", disk.name), ("Description", "")):
        value = p.text(name)
        if value is not None and value != current:
            raise invalid_parameter(name, "cannot be changed by lecs")
    with_instance = p.flag("DeleteWithInstance") if p.has("DeleteWithInstance") else None
    p.done()
    if with_instance is not None:
        with engine("disk"):
            call.cloud.disks.set_delete_with_instance(disk.id, with_instance)
    return {}


# ---- snapshots ---------------------------------------------------------------------
@action("CreateSnapshot", params=("RegionId", "DiskId", "SnapshotName", "Description",
                                  "ClientToken", "RetentionDays", "Category"))
async def create_snapshot(call: Call) -> dict[str, Any]:
    p = Params(call)
    disk = find_disk(call.cloud, p.need("DiskId"))
    name = p.text("SnapshotName", max_len=128)
    p.only("Description", "")
    p.only("Category", "standard")
    if p.has("RetentionDays"):
        raise invalid_parameter("RetentionDays", "cannot be honoured: lecs keeps snapshots"
                                " until deleted")
    p.done()
    with engine("snapshot"):
        snap = await call.cloud.snapshots.create(disk.id, name)
    return {"SnapshotId": snap.id}


@action("DescribeSnapshots", params=("RegionId", "DiskId", "InstanceId", "SnapshotIds",
                                     "SnapshotName", "Status", "DryRun", *PAGING))
async def describe_snapshots(call: Call) -> dict[str, Any]:
    p = Params(call)
    p.region()
    disk_id, instance = p.text("DiskId"), p.text("InstanceId")
    ids, name = p.json_list("SnapshotIds"), p.text("SnapshotName")
    status = p.choice("Status", ("progressing", "accomplished", "failed", "all"), "all")
    disks = {d.id: d for d in call.cloud.disks.list()}
    chosen = [s for s in call.cloud.snapshots.list()
              if (not disk_id or s.disk_id == disk_id) and (ids is None or s.id in ids)
              and (not name or s.name == name)
              and (not instance or (s.disk_id in disks
                                    and disks[s.disk_id].instance_id == instance))
              and status in ("all", shapes.SNAPSHOT_STATUS.get(s.state.value))]
    chosen.sort(key=lambda s: (-s.created_at, s.id))
    items, paging = shapes.page(p, chosen, most=100)
    p.done(dry_run=True)
    role = {d.id: d.role for d in disks.values()}
    return {**paging, "Snapshots": {"Snapshot": [shapes.snapshot(s, role.get(s.disk_id, "data"))
                                                 for s in items]}}


@action("DeleteSnapshot", params=("RegionId", "SnapshotId", "Force"))
async def delete_snapshot(call: Call) -> dict[str, Any]:
    p = Params(call)
    snap = find_snapshot(call.cloud, p.need("SnapshotId"))
    p.flag("Force")
    p.done()
    with engine("snapshot"):
        await call.cloud.snapshots.delete(snap.id)
    return {}


@action("ResetDisk", params=("RegionId", "DiskId", "SnapshotId", "DryRun"))
async def reset_disk(call: Call) -> dict[str, Any]:
    """The disk's contents back to a snapshot of it (its instance Stopped)."""
    p = Params(call)
    disk = find_disk(call.cloud, p.need("DiskId"))
    snap = find_snapshot(call.cloud, p.need("SnapshotId"))
    if snap.disk_id != disk.id:
        raise invalid_parameter("SnapshotId", f"is not a snapshot of disk {disk.id}")
    p.done(dry_run=True)
    with engine("disk"):
        await call.cloud.snapshots.rollback(snap.id)
    return {}
