"""From the inventory's rules to what each instance's networking enforces, applied live.

Every change (rule added or deleted, group attached or detached) is planned first for every
instance it touches; if any instance's mode cannot enforce the result, nothing is stored.
Then running user-mode instances get their forwards changed through the driver (undone
again if a step fails), the inventory is written, and bridge networks get their nftables
ruleset replaced inside the same transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from backend.drivers.protocol import Driver
from backend.drivers.qemu import passt
from backend.drivers.qemu.argv import ForwardSpec
from backend.inventory import journal
from backend.inventory.errors import LecsError
from backend.inventory.locks import Locks
from backend.inventory.store import Store
from backend.network import usermode
from backend.network.records import Action, Direction, Protocol, Rule
from backend.network.usermode import NotEnforceable

LIVE_STATES = ("running", "rebooting")
Row = dict[str, Any]
Mutation = Callable[[Any], None]  # gets the sqlite_utils.Database inside the transaction
PORT_TRIES = 5  # plans of one change whose new host ports a parallel writer took first


class PortTaken(LecsError):
    """A host port this change chose was recorded by a parallel writer before it stored."""


def rule_from_row(r: Row) -> Rule:
    return Rule(
        id=r["id"], group_id=r["group_id"], direction=Direction(r["direction"]),
        protocol=Protocol(r["protocol"]), port_min=r["port_min"], port_max=r["port_max"],
        cidr=r["cidr"] or "", action=Action(r["action"]), priority=r["priority"],
        description=r["description"] or "", remote_group=r["remote_group"] or "",
    )


def _spec(r: Row) -> ForwardSpec:
    return ForwardSpec(str(r["protocol"]), str(r["host_addr"]), int(r["host_port"]),
                       int(r["guest_port"]))


@dataclass(slots=True)
class Change:
    """What one instance's networking becomes."""

    instance_id: str
    name: str
    live: bool
    bridge_network: str = ""  # network id; "" = user mode
    old: list[Row] = field(default_factory=list)
    new: list[Row] = field(default_factory=list)
    restrict: bool = False


class Enforcer:
    def __init__(self, store: Store, driver: Driver, locks: Locks) -> None:
        self.store = store
        self.driver = driver
        self.locks = locks
        # Set by the bridge networks service: rewrites a network's nftables in a transaction.
        self.bridge_apply: Callable[[str], None] | None = None

    # ---- reading -------------------------------------------------------------------
    def group_ids(self, instance_id: str) -> list[str]:
        rows = self.store.rows(
            "SELECT group_id FROM instance_sgs WHERE instance_id = ? ORDER BY position",
            [instance_id])
        return [r["group_id"] for r in rows]

    def rules_of(self, group_ids: list[str]) -> list[Rule]:
        if not group_ids:
            return []
        marks = ",".join("?" * len(group_ids))
        return [rule_from_row(r) for r in self.store.rows(
            f"SELECT * FROM sg_rules WHERE group_id IN ({marks})", group_ids)]

    def instances_in(self, group_id: str) -> list[str]:
        return [r["instance_id"] for r in self.store.rows(
            "SELECT instance_id FROM instance_sgs WHERE group_id = ? ORDER BY instance_id",
            [group_id])]

    def network_of(self, instance_id: str) -> str:
        row = self.store.row("SELECT network_id FROM nics WHERE instance_id = ?", [instance_id])
        return str(row["network_id"]) if row else ""

    # ---- planning ------------------------------------------------------------------
    def plan(self, instance_id: str, rules: list[Rule], used: set[int]) -> Change:
        """What `rules` mean for this instance; NotEnforceable if its mode cannot do it."""
        row = self.store.row("SELECT * FROM instances WHERE id = ?", [instance_id])
        assert row is not None
        live = row["state"] in LIVE_STATES
        network = self.network_of(instance_id)
        change = Change(instance_id, row["name"], live, network)
        if network:
            return change  # bridge mode enforces the whole rule model
        try:
            compiled = usermode.compile_rules(rules)
        except NotEnforceable as exc:
            raise NotEnforceable(f"instance {row['name']!r}: {exc}") from None
        change.old = self.store.rows("SELECT * FROM forwards WHERE instance_id = ?",
                                     [instance_id])
        change.new = usermode.assign(compiled, instance_id, change.old, used)
        change.restrict = compiled.restrict
        if live and compiled.restrict != bool(row["egress_restricted"]):
            want = "deny" if compiled.restrict else "allow"
            raise NotEnforceable(
                f"user-mode networking cannot {want} egress of running instance"
                f" {row['name']!r} live (its egress NIC is fixed when QEMU starts): stop it"
                " first, or use bridge mode, which applies egress rules live")
        launched = self.driver.egress_mode(instance_id) if live else ""
        if launched in (passt.SEALED, passt.HOST) and compiled.host_loopback != (
                launched == passt.HOST):
            want = "open" if compiled.host_loopback else "close"
            raise NotEnforceable(
                f"user-mode networking cannot {want} the host's loopback to running instance"
                f" {row['name']!r} live (passt maps it when the instance starts): stop it"
                " first, or use bridge mode, which applies egress rules live")
        return change

    def used_ports(self) -> set[int]:
        return usermode.recorded_ports(self.store)

    # ---- applying ------------------------------------------------------------------
    async def change(
        self, instance_ids: list[str], rules_for: Callable[[str], list[Rule]],
        mutate: Mutation,
    ) -> list[Change]:
        """Plan for each instance, apply live, store; all or nothing.

        New forwards get their host ports before the write transaction (a running QEMU opens
        them first), so a parallel writer may record one of them meanwhile: then the unique
        index on forwards refuses the store, the live forwards are undone and the change is
        planned again from the ports recorded by then."""
        ids = sorted(set(instance_ids))
        async with AsyncExitStack() as stack:
            for instance_id in ids:
                await stack.enter_async_context(self.locks.hold(instance_id))
            for _ in range(PORT_TRIES - 1):
                try:
                    return await self._apply(ids, rules_for, mutate)
                except PortTaken:
                    continue
            try:
                return await self._apply(ids, rules_for, mutate)
            except PortTaken:
                raise LecsError("host ports kept being taken by parallel changes while"
                                " this one was applied; nothing changed, try again") from None

    async def _apply(
        self, ids: list[str], rules_for: Callable[[str], list[Rule]], mutate: Mutation,
    ) -> list[Change]:
        used = self.used_ports()
        changes = [self.plan(i, rules_for(i), used) for i in ids]
        live = {ch.instance_id: {"old": [dict(r) for r in ch.old],
                                 "new": [dict(r) for r in ch.new]}
                for ch in changes if ch.live and not ch.bridge_network}
        if live:  # after a kill, QEMU's forwards follow the rows (network/recovery.py)
            journal.effect("forwards.sync", forwards=live)
        done: list[tuple[str, str, ForwardSpec]] = []
        try:
            for ch in changes:
                if not ch.live or ch.bridge_network:
                    continue
                remove, add = usermode.diff(ch.old, ch.new)
                for r in remove:
                    await self.driver.remove_forward(ch.instance_id, _spec(r))
                    done.append(("removed", ch.instance_id, _spec(r)))
                for r in add:
                    await self.driver.add_forward(ch.instance_id, _spec(r))
                    done.append(("added", ch.instance_id, _spec(r)))
                    journal.step("forward")
            self._store(changes, mutate)
        except BaseException:
            await self._undo(done)
            raise
        return changes

    def _store(self, changes: list[Change], mutate: Mutation) -> None:
        with self.store.transaction() as db:
            mutate(db)
            for ch in changes:
                if ch.bridge_network:
                    continue
                db.execute("DELETE FROM forwards WHERE instance_id = ?", [ch.instance_id])
                if ch.new:
                    try:
                        db.table("forwards").insert_all(ch.new)
                    except sqlite3.IntegrityError as exc:  # a parallel writer took a port
                        raise PortTaken(str(exc)) from None
            networks = {ch.bridge_network for ch in changes if ch.bridge_network}
            if self.bridge_apply is not None:
                for network_id in sorted(networks):
                    self.bridge_apply(network_id)

    async def _undo(self, done: list[tuple[str, str, ForwardSpec]]) -> None:
        for what, instance_id, spec in reversed(done):
            try:
                if what == "added":
                    await self.driver.remove_forward(instance_id, spec)
                else:
                    await self.driver.add_forward(instance_id, spec)
            except Exception:  # best effort: the QEMU may be gone; the inventory is unchanged
                pass


def check_rules_for_mode(rules: list[Rule], bridge: bool) -> None:
    """Whether an instance of this mode could carry these rules (used at create)."""
    if not bridge:
        usermode.compile_rules(rules)
