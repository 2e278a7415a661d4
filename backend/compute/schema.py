"""Compute tables (schema step 1): instance types, instances and their host port forwards."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def step1(db: sqlite_utils.Database) -> None:
    db.table("instance_types").create(
        {"name": str, "vcpus": int, "memory_mib": int, "description": str}, pk="name"
    )
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
    db.table("forwards").create(
        {"instance_id": str, "protocol": str, "host_addr": str, "host_port": int,
         "guest_port": int},
        pk=("instance_id", "protocol", "guest_port"),
        foreign_keys=[("instance_id", "instances", "id")],
    )
