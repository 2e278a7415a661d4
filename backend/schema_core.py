"""Schema v1 (the first migration step in backend.store.MIGRATIONS): instance types,
images, instances, disks, forwards, tags and the audit trail's events."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    db.table("instance_types").create(
        {"name": str, "vcpus": int, "memory_mib": int, "description": str}, pk="name"
    )
    db.table("images").create(
        {
            "id": str, "name": str, "format": str, "size_bytes": int, "os": str, "source": str,
            "checksum": str, "state": str, "created_at": float, "path": str, "kernel": str,
            "initrd": str, "cmdline": str,
        },
        pk="id",
    )
    db.table("images").create_index(["name"], unique=True)
    db.table("instances").create(
        {
            "id": str, "name": str, "type": str, "image_id": str, "state": str,
            "created_at": float, "started_at": float, "pid": int, "accel": str,
            "last_error": str,
        },
        pk="id",
        foreign_keys=[("type", "instance_types", "name"), ("image_id", "images", "id")],
        not_null={"name", "type", "image_id", "state"},
    )
    db.table("instances").create_index(["name"], unique=True)
    db.table("disks").create(
        {
            "id": str, "name": str, "size_gib": int, "format": str, "role": str, "state": str,
            "path": str, "instance_id": str, "delete_with_instance": int, "encrypted": int,
            "created_at": float, "backing_image_id": str, "position": int,
        },
        pk="id",
        foreign_keys=[("instance_id", "instances", "id"), ("backing_image_id", "images", "id")],
    )
    db.table("disks").create_index(["name"], unique=True)
    db.table("forwards").create(
        {"instance_id": str, "protocol": str, "host_addr": str, "host_port": int,
         "guest_port": int},
        pk=("instance_id", "protocol", "guest_port"),
        foreign_keys=[("instance_id", "instances", "id")],
    )
    db.table("tags").create(
        {"resource_id": str, "key": str, "value": str}, pk=("resource_id", "key")
    )
    db.table("events").create(
        {
            "id": int, "time": float, "user": str, "action": str, "resource": str,
            "parameters": str, "result": str, "error": str, "duration_ms": float,
        },
        pk="id",
    )
    db.table("events").create_index(["resource"])
    db.table("events").create_index(["time"])
