"""Bridge networks (VPC/subnet analog): inventory, addresses, bring-up, firewall, teardown."""

from __future__ import annotations

import builtins
import ipaddress
import time
from pathlib import Path
from typing import Any

from backend.drivers.qemu import bridge
from backend.inventory import journal, validate
from backend.inventory.audit import Audit
from backend.inventory.errors import ConflictError, NotFoundError, ValidationError
from backend.inventory.ids import new_id
from backend.inventory.journal import Journal, journaled_sync
from backend.inventory.paths import Paths, private_dir
from backend.inventory.store import Store
from backend.network import nft
from backend.network.enforce import Enforcer
from backend.network.ports import mac_for
from backend.network.records import Network

FIRST_HOST = 10  # .1 is the gateway (the bridge), .2-.9 stay free


def _network(row: dict[str, Any]) -> Network:
    return Network(id=row["id"], name=row["name"], cidr=row["cidr"], bridge=row["bridge"],
                   netns=row["netns"] or "", created_at=row["created_at"])


class Networks:
    def __init__(self, store: Store, paths: Paths, audit: Audit, enforcer: Enforcer,
                 journal: Journal) -> None:
        self.journal = journal
        self.store = store
        self.paths = paths
        self.audit = audit
        self.enforcer = enforcer
        enforcer.bridge_apply = self._apply_firewall

    def _state(self, net: Network) -> Path:
        return self.paths.runtime / "net" / net.id

    # ---- inventory -----------------------------------------------------------------
    def list(self) -> builtins.list[Network]:
        return [_network(r) for r in self.store.rows("SELECT * FROM networks ORDER BY name")]

    def get(self, ref: str) -> Network:
        row = self.store.row("SELECT * FROM networks WHERE id = ? OR name = ?", [ref, ref])
        if row is None:
            raise NotFoundError(f"network {ref!r} not found")
        return _network(row)

    @journaled_sync("network.create")
    def create(self, name: str, cidr: str, netns: str = "") -> Network:
        params = {"name": name, "cidr": cidr, "netns": netns}
        with self.audit.track("network.create", name, params) as t:
            validate.name(name, "network name")
            if netns:
                validate.name(netns, "network namespace")
            try:
                net = ipaddress.IPv4Network(cidr, strict=True)
            except ValueError as exc:
                raise ValidationError(f"invalid network CIDR {cidr!r}: {exc}") from None
            if not 16 <= net.prefixlen <= 28 or not net.is_private:
                raise ValidationError(f"network CIDR {cidr!r} must be private, /16 to /28")
            if self.store.row("SELECT id FROM networks WHERE name = ?", [name]):
                raise ConflictError(f"a network named {name!r} exists already")
            for other in self.list():
                if net.overlaps(ipaddress.IPv4Network(other.cidr)) and other.netns == netns:
                    raise ConflictError(f"{cidr} overlaps network {other.name!r} ({other.cidr})")
            bridge.require_root()
            network_id = new_id("net")
            t.resource = network_id
            row = {"id": network_id, "name": name, "cidr": str(net),
                   "bridge": bridge.BRIDGE_PREFIX + network_id[4:], "netns": netns,
                   "created_at": time.time()}
            # Killed from here on, recovery brings it up (network.sync): `up` is idempotent.
            journal.effect("network.sync", network=network_id)
            with self.store.transaction() as db:
                db.table("networks").insert(row)
            journal.step("row")
            created = _network(row)
            try:
                self.up(created)
            except BaseException:
                self.down(created)
                with self.store.transaction() as db:
                    db.table("networks").delete(network_id)
                raise
            return created

    @journaled_sync("network.delete")
    def delete(self, ref: str) -> None:
        with self.audit.track("network.delete", ref) as t:
            net = self.get(ref)
            t.resource = net.id
            users = self.store.rows("SELECT i.name FROM nics n JOIN instances i ON"
                                    " i.id = n.instance_id WHERE n.network_id = ?", [net.id])
            if users:
                raise ConflictError(f"network {net.name!r} is in use by "
                                    + ", ".join(sorted(u["name"] for u in users)))
            journal.effect("network.sync", network=net.id)  # killed: the delete is finished
            self.down(net)
            journal.step("down")
            with self.store.transaction() as db:
                db.table("networks").delete(net.id)

    # ---- addresses -----------------------------------------------------------------
    def new_nic(self, net: Network, instance_id: str) -> dict[str, Any]:
        taken = {r["ip"] for r in self.store.rows("SELECT ip FROM nics WHERE network_id = ?",
                                                  [net.id])}
        for n, host in enumerate(ipaddress.IPv4Network(net.cidr).hosts(), start=1):
            if n >= FIRST_HOST and str(host) not in taken:
                return {"instance_id": instance_id, "network_id": net.id,
                        "mac": mac_for(instance_id), "ip": str(host),
                        "tap": bridge.TAP_PREFIX + instance_id[2:12]}
        raise ConflictError(f"network {net.name!r} has no free address")

    # ---- host side -----------------------------------------------------------------
    def up(self, net: Network) -> None:
        """Bridge, dnsmasq and firewall of `net`, idempotently."""
        bridge.require_root()
        cidr = ipaddress.IPv4Network(net.cidr)
        gateway = f"{next(cidr.hosts())}/{cidr.prefixlen}"
        bridge.ensure_bridge(net.netns, net.bridge, gateway)
        state = private_dir(self._state(net))
        self._write_hosts(net, state)
        bridge.dnsmasq_start(net.netns, net.bridge, str(cidr.network_address),
                             str(cidr.netmask), state)
        self._apply_firewall(net.id)

    def down(self, net: Network) -> None:
        """Remove everything `net` put on the host (taps of running QEMUs go with them)."""
        bridge.dnsmasq_stop(self._state(net))
        name = nft.table_name(net.bridge)
        if any(table == name for _family, table in bridge.tables(net.netns)):
            bridge.nft(net.netns, nft.delete_table(net.bridge))
        bridge.delete_link(net.netns, net.bridge)

    def _write_hosts(self, net: Network, state: Path) -> None:
        lines = [f"{r['mac']},{r['ip']}" for r in self.store.rows(
            "SELECT mac, ip FROM nics WHERE network_id = ? ORDER BY ip", [net.id])]
        (state / "dhcp-hosts").write_text("".join(line + "\n" for line in lines))

    def _apply_firewall(self, network_id: str) -> None:
        """Replace the network's nftables tables from the inventory (inside a transaction).

        Checked each time: without br_netfilter the inet table would not see bridged
        traffic, and a firewall that is loaded but bypassed must not look like one that works.
        """
        net = self.get(network_id)
        if net.bridge not in bridge.links(net.netns):
            return  # not up: `up` applies it
        bridge.ensure_bridge_netfilter(net.netns)
        nics = self.store.rows("SELECT * FROM nics WHERE network_id = ? ORDER BY ip", [net.id])
        ports: builtins.list[nft.Port] = []
        groups: dict[str, builtins.list[str]] = {}
        for nic in nics:
            group_ids = self.enforcer.group_ids(nic["instance_id"])
            rules = tuple(self.enforcer.rules_of(group_ids))
            ports.append(nft.Port(nic["tap"], nic["ip"], nic["mac"], rules))
            for gid in group_ids:
                groups.setdefault(gid, []).append(nic["ip"])
            for rule in rules:
                if rule.remote_group:
                    groups.setdefault(rule.remote_group, [])
        bridge.nft(net.netns, nft.compile_table(net.bridge, ports, groups))

    def refresh(self, network_id: str) -> None:
        net = self.get(network_id)
        if net.bridge in bridge.links(net.netns):
            self.up(net)

    def launch_fields(self, nic: dict[str, Any]) -> dict[str, Any]:
        """Bring the network up for a NIC about to start; LaunchSpec fields for it."""
        net = self.get(nic["network_id"])
        self.up(net)
        bridge.delete_link(net.netns, nic["tap"])  # a stale tap would make QEMU fail
        return {"tap": nic["tap"], "netns": net.netns, "bridge": net.bridge}

    # ---- reconcile -----------------------------------------------------------------
    def reconcile(self, netns: builtins.list[str] | None = None) -> builtins.list[str]:
        """Remove lecs bridges, taps, tables and dnsmasqs that no inventory row explains."""
        known = self.list()
        spaces = sorted({n.netns for n in known} | set(netns or []) | {""})
        bridges = {(n.netns, n.bridge) for n in known}
        taps = {r["tap"] for r in self.store.rows("SELECT tap FROM nics")}
        removed: builtins.list[str] = []
        for space in spaces:
            for name in bridge.links(space):
                stray_bridge = (name.startswith(bridge.BRIDGE_PREFIX)
                                and (space, name) not in bridges)
                stray_tap = name.startswith(bridge.TAP_PREFIX) and name not in taps
                if stray_bridge or stray_tap:
                    bridge.delete_link(space, name)
                    removed.append(f"{space or 'host'}:{name}")
            tables = {nft.table_name(b) for s, b in bridges if s == space}
            for family, name in bridge.tables(space):
                if name.startswith(bridge.TABLE_PREFIX) and name not in tables:
                    bridge.run(["ip", "netns", "exec", space, "nft", "delete", "table",
                                family, name] if space else
                               ["nft", "delete", "table", family, name], check=False)
                    removed.append(f"{space or 'host'}:{family} {name}")
        state_root = self.paths.runtime / "net"
        if state_root.exists():
            ids = {n.id for n in known}
            for state in state_root.iterdir():
                if state.name not in ids:
                    bridge.dnsmasq_stop(state)
                    removed.append(f"dnsmasq {state.name}")
        return removed


def recover(networks: Networks, action: str, data: dict[str, Any]) -> None:
    """A killed network create is brought up (its row was stored), a killed delete finished."""
    row = networks.store.row("SELECT * FROM networks WHERE id = ?", [str(data["network"])])
    if row is None:
        return  # never stored, or deleted: nothing of it is on the host any more
    net = _network(row)
    if action == "network.delete":
        networks.down(net)
        with networks.store.transaction() as db:
            db.execute("DELETE FROM networks WHERE id = ?", [net.id])
    else:
        networks.up(net)
