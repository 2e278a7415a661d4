"""What a killed security-group change leaves, made right (the journal's `forwards.sync`).

A rule added or deleted, or a group attached or detached, changes running instances' QEMU
host forwards first and the inventory (rules and `forwards` rows) in one transaction after.
Killed between the two, QEMU holds forwards the rows do not have, or lacks ones they have.
The rows are the truth: for every forward the change touched, QEMU gets it if a row has it
and loses it otherwise. So a port opened for a rule that was never stored is closed.
"""

from __future__ import annotations

from typing import Any

from backend.drivers.protocol import Driver
from backend.drivers.qemu.argv import ForwardSpec
from backend.inventory.records import InstanceState
from backend.inventory.store import Store


async def sync_forwards(store: Store, driver: Driver, data: dict[str, Any]) -> list[str]:
    """Returns a line per forward changed."""
    changed: list[str] = []
    for instance_id, touched in dict(data.get("forwards", {})).items():
        inst = store.row("SELECT state FROM instances WHERE id = ?", [instance_id])
        if inst is None or inst["state"] != InstanceState.RUNNING:
            continue  # no QEMU, or one that starts from the rows anyway
        rows = store.rows("SELECT * FROM forwards WHERE instance_id = ?", [instance_id])
        stored = {_key(r) for r in rows}
        old = {_key(r) for r in touched["old"]}
        new = {_key(r) for r in touched["new"]}
        for key in sorted(old ^ new):  # what the change meant to open or close
            spec = ForwardSpec(*key)
            # Remove first (a forward may already be there, or be half-set-up), then add
            # back what the rows keep: each step may fail on what is already so.
            try:
                await driver.remove_forward(instance_id, spec)
            except Exception:
                pass
            if key in stored:
                await driver.add_forward(instance_id, spec)
            else:
                changed.append(f"{instance_id}: closed {spec.host_addr}:{spec.host_port}")
    return changed


def _key(r: dict[str, Any]) -> tuple[str, str, int, int]:
    return (str(r["protocol"]), str(r["host_addr"]), int(r["host_port"]), int(r["guest_port"]))


def repair_egress(store: Store, driver: Driver, data: dict[str, Any]) -> str:
    """A launch killed around its passt (the journal's `passt`): QEMU alive gets its passt
    (again), a passt whose QEMU is gone is stopped. Returns what was done ("" = nothing)."""
    instance_id = str(data["instance"])
    row = store.row("SELECT pid FROM instances WHERE id = ?", [instance_id])
    return driver.repair_egress(instance_id, row["pid"] if row else None)
