"""Inventory tables of the network issue: security groups, rules, key pairs, bridge networks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils



def step3(db: sqlite_utils.Database) -> None:
    db.table("security_groups").create(
        {"id": str, "name": str, "description": str, "created_at": float},
        pk="id", not_null={"name"},
    )
    db.table("security_groups").create_index(["name"], unique=True)
    db.table("sg_rules").create(
        {
            "id": str, "group_id": str, "direction": str, "protocol": str, "port_min": int,
            "port_max": int, "cidr": str, "remote_group": str, "action": str,
            "priority": int, "description": str, "created_at": float,
        },
        pk="id", foreign_keys=[("group_id", "security_groups", "id")],
        not_null={"group_id", "direction", "protocol", "action", "priority"},
    )
    db.table("sg_rules").create_index(["group_id"])
    db.table("instance_sgs").create(
        {"instance_id": str, "group_id": str, "position": int},
        pk=("instance_id", "group_id"),
        foreign_keys=[("instance_id", "instances", "id"), ("group_id", "security_groups", "id")],
    )
    db.table("keypairs").create(
        {
            "name": str, "key_type": str, "fingerprint": str, "public_key": str,
            "comment": str, "created_at": float, "private_key_path": str,
        },
        pk="name",
    )
    db.table("networks").create(
        {"id": str, "name": str, "cidr": str, "bridge": str, "netns": str,
         "created_at": float},
        pk="id", not_null={"name", "cidr", "bridge"},
    )
    db.table("networks").create_index(["name"], unique=True)
    db.table("networks").create_index(["bridge"], unique=True)
    db.table("nics").create(
        {"instance_id": str, "network_id": str, "mac": str, "ip": str, "tap": str},
        pk="instance_id",
        foreign_keys=[("instance_id", "instances", "id"), ("network_id", "networks", "id")],
    )
    db.table("nics").create_index(["tap"], unique=True)
    db.table("nics").create_index(["network_id", "ip"], unique=True)
    instances = db.table("instances")
    for column in ("key_pair", "hostname", "user_data"):
        instances.add_column(column, str)
    instances.add_column("egress_restricted", int)


def step7(db: sqlite_utils.Database) -> None:
    """When the tiny guest said it ran the instance's #! user-data (its first boot): the seed
    is written without it from then on (backend/network/instance_net.py, settle_user_data)."""
    db.table("instances").add_column("user_data_ran", float)


def step10(db: sqlite_utils.Database) -> None:
    """One forward per host port: a unique index, SQLite the arbiter between parallel writers
    (backend/network/usermode.py). An inventory that already holds a duplicate (two creates
    that raced before this step) keeps the earlier row; a later one gets a new port, its
    instance's preferred one if free, and takes it at its next start."""
    from backend.network import usermode

    rows = db.execute("SELECT rowid, instance_id, protocol, host_addr, host_port, guest_port"
                      " FROM forwards ORDER BY rowid").fetchall()
    used = {int(r[4]) for r in rows}
    seen: set[tuple[str, str, int]] = set()
    for rowid, instance_id, protocol, addr, port, guest_port in rows:
        if (protocol, addr, port) not in seen:
            seen.add((protocol, addr, port))
            continue
        new = usermode.free_port(protocol, addr, used, usermode.preferred_port(
            instance_id, protocol, addr, guest_port))
        used.add(new)
        seen.add((protocol, addr, new))
        db.execute("UPDATE forwards SET host_port = ? WHERE rowid = ?", [new, rowid])
    db.table("forwards").create_index(["protocol", "host_addr", "host_port"],
                                      index_name="forwards_host_port", unique=True)
