"""An instance's networking and first-boot data, as Instances uses it.

At create: groups (default `default`), forwards compiled from their rules, the key pair,
user-data and hostname in a NoCloud seed ISO, a NIC on a bridge network. At launch: what
the QEMU command line needs. At delete: the rows and files to forget.

User-data runs once per instance (NoCloud's semantics). A cloud image's cloud-init keeps
that itself (/var/lib/cloud, keyed by instance-id), so its seed always holds the user-data.
The tiny guest keeps nothing across boots: its init says on the console when it starts a #!
script (`USER_DATA_RAN`); before the next boot (a start or a reboot) lecs records that in the
row (`user_data_ran`) and writes the seed without the script (`settle_user_data`). A boot
that never got that far runs it again: at least once, never twice after it started. A
`#cloud-boothook` runs at every boot, as cloud-init's does.

Listing instances needs only `view()` (two queries); the services behind the operations
(groups, key pairs, networks and their enforcer) are built, and their modules imported, on
first use: keeps the dashboard's first frame quick.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.inventory import journal
from backend.inventory.errors import ValidationError
from backend.inventory.paths import Paths, private_dir

if TYPE_CHECKING:
    from backend.drivers.protocol import Driver
    from backend.inventory.audit import Audit
    from backend.inventory.journal import Journal
    from backend.inventory.locks import Locks
    from backend.inventory.store import Store
    from backend.network.enforce import Enforcer
    from backend.network.groups import SecurityGroups
    from backend.network.keypairs import KeyPairs
    from backend.network.networks import Networks
    from backend.network.usermode import Plan


USER_DATA_RAN = b"lecs-init: user-data (once): running"  # sample_data/guest/init.sh
SEED_DEVICE = "cdrom sr0 (virtio-scsi), label cidata"  # backend/drivers/qemu/argv.py


def user_data_once(row: dict[str, Any]) -> bool:
    """The tiny guest runs a #! script once per instance (a #cloud-boothook at every boot)."""
    return str(row.get("user_data") or "").startswith("#!")


@dataclass(slots=True)
class Prepared:
    """Rows to insert with a new instance (inside its create transaction)."""

    instance_id: str = ""
    instance_fields: dict[str, Any] = field(default_factory=dict)
    plan: Plan | None = None  # user mode: the forwards to give host ports (at insert)
    forwards: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    nic: dict[str, Any] | None = None
    seed: Path | None = None

    def insert(self, db: Any) -> None:
        """Inside the create's write transaction: the host ports are chosen here, from the
        ports recorded now, so a parallel create cannot pick the same ones."""
        from backend.network import usermode

        if self.plan is not None:
            self.forwards = usermode.assign(self.plan, self.instance_id, [],
                                            usermode.recorded_ports(db))
        if self.forwards:
            db.table("forwards").insert_all(self.forwards)
        db.table("instance_sgs").insert_all(self.groups)
        if self.nic:
            db.table("nics").insert(self.nic)

    def discard(self) -> None:
        if self.seed:
            self.seed.unlink(missing_ok=True)


class InstanceNetworking:
    def __init__(self, store: Store, paths: Paths, audit: Audit, driver: Driver,
                 locks: Locks, journal: Journal) -> None:
        self.journal = journal
        self.store = store
        self.paths = paths
        self.audit = audit
        self.driver = driver
        self.locks = locks

    @cached_property
    def networks(self) -> Networks:
        from backend.network.enforce import Enforcer
        from backend.network.networks import Networks

        return Networks(self.store, self.paths, self.audit,
                        Enforcer(self.store, self.driver, self.locks), self.journal)

    @cached_property
    def enforcer(self) -> Enforcer:
        """The networks' own: they hook their firewall into it (`bridge_apply`)."""
        return self.networks.enforcer

    @cached_property
    def groups(self) -> SecurityGroups:
        from backend.network.groups import SecurityGroups

        return SecurityGroups(self.store, self.audit, self.enforcer, self.journal)

    @cached_property
    def keypairs(self) -> KeyPairs:
        from backend.network.keypairs import KeyPairs

        return KeyPairs(self.store, self.paths, self.audit, self.journal)

    def seed_path(self, instance_id: str) -> Path:
        return self.paths.home / "seeds" / f"{instance_id}.iso"

    def prepare(
        self, instance_id: str, name: str, sgs: list[str] | None, keypair: str | None,
        user_data: bytes | str | None, hostname: str | None, network: str | None,
        disk_image: bool = False,
    ) -> Prepared:
        """Validate and plan; nothing is stored yet (the seed ISO is written, see discard).
        An instance of a disk image (a cloud image: cloud-init) always gets a seed: its
        hostname and, in user mode, which NIC is which (`cloudinit.network_config`)."""
        from backend.network import cloudinit, usermode
        from backend.network.enforce import check_rules_for_mode
        from backend.network.groups import DEFAULT
        from backend.network.usermode import NotEnforceable

        group_ids = self.groups.resolve(list(sgs) if sgs else [DEFAULT])
        rules = self.enforcer.rules_of(group_ids)
        prepared = Prepared(instance_id)
        net = self.networks.get(network) if network else None
        try:
            check_rules_for_mode(rules, bridge=net is not None)
        except NotEnforceable as exc:
            raise NotEnforceable(f"instance {name!r}: {exc}") from None
        if net is None:
            plan = usermode.compile_rules(rules)
            prepared.plan = plan
            prepared.instance_fields["egress_restricted"] = int(plan.restrict)
        else:
            prepared.nic = self.networks.new_nic(net, instance_id)
        prepared.groups = [{"instance_id": instance_id, "group_id": g, "position": n}
                           for n, g in enumerate(group_ids)]
        key = self.keypairs.get(keypair) if keypair else None
        text = cloudinit.user_data(user_data) if user_data is not None else ""
        host = cloudinit.hostname(hostname) if hostname else ""
        prepared.instance_fields.update(key_pair=key.name if key else "", hostname=host,
                                        user_data=text)
        if key or text or host or disk_image:
            prepared.seed = self.write_seed(instance_id, name, prepared.instance_fields,
                                            user_mode=net is None and disk_image)
        return prepared

    @staticmethod
    def hostname_of(row: dict[str, Any]) -> str:
        """The guest's hostname: the one given, else one made from the instance's name."""
        from backend.network import cloudinit

        return str(row.get("hostname") or cloudinit.hostname_for(row["name"]))

    def write_seed(self, instance_id: str, name: str, fields: dict[str, Any],
                   user_mode: bool = False) -> Path:
        from backend.drivers.qemu.argv import egress_mac
        from backend.network import cloudinit
        from backend.network.ports import mac_for

        keys = []
        if fields.get("key_pair"):
            keys.append(self.keypairs.get(fields["key_pair"]).public_key)
        host = fields.get("hostname") or cloudinit.hostname_for(name)
        meta = cloudinit.meta_data(instance_id, host, keys)
        private_dir(self.paths.home / "seeds")
        network = ""
        if user_mode:
            mac = mac_for(instance_id)
            network = cloudinit.network_config(mac, egress_mac(mac))
        user = "" if fields.get("user_data_ran") else fields.get("user_data") or ""
        return cloudinit.write_seed(self.seed_path(instance_id), meta, user, network)

    @staticmethod
    def has_seed(row: dict[str, Any], disk_image: bool) -> bool:
        return bool(row.get("key_pair") or row.get("user_data") or row.get("hostname")
                    or disk_image)

    def settle_user_data(self, row: dict[str, Any], disk_image: bool) -> bool:
        """Before a boot of a tiny guest with #! user-data: if the last boot started it (its
        console says so), record that and write the seed without it. Returns True when the
        seed holds no user-data any more (a running QEMU still has the old one: see
        Driver.change_seed). A journaled operation's effect `seed.sync` covers a crash."""
        if disk_image or not user_data_once(row):
            return False
        if row.get("user_data_ran"):
            return True
        try:
            said = USER_DATA_RAN in (self.driver.rundir(row["id"]) / "serial.log").read_bytes()
        except OSError:
            said = False
        if not said:
            return False
        journal.effect("seed.sync", instance=row["id"])
        ran = time.time()
        with self.store.transaction() as db:
            db.table("instances").update(row["id"], {"user_data_ran": ran})
        journal.step("seed")
        self.write_seed(row["id"], row["name"], {**row, "user_data_ran": ran})
        return True

    def sync_seed(self, instance_id: str) -> None:
        """Recovery (`seed.sync`): the seed as the row says, whatever a killed process left."""
        row = self.store.row("SELECT * FROM instances WHERE id = ?", [instance_id])
        if row and self.seed_path(instance_id).exists():
            self.write_seed(instance_id, row["name"], row)

    def seed_view(self, instance_id: str, disk_image: bool) -> dict[str, str] | None:
        """What `instance show` says of the seed: its file, device and user-data's fate."""
        row = self.store.row("SELECT * FROM instances WHERE id = ?", [instance_id])
        if row is None or not self.has_seed(row, disk_image):
            return None
        text = str(row.get("user_data") or "")
        if not text:
            fate = "none"
        elif disk_image:
            fate = "cloud-init runs it once per instance"
        elif user_data_once(row):
            fate = "ran on the first boot" if row.get("user_data_ran") else "first boot"
        elif text.startswith("#cloud-boothook"):
            fate = "every boot (#cloud-boothook)"
        else:
            fate = "not run (the tiny guest runs #! scripts only)"
        return {"path": str(self.seed_path(instance_id)), "device": SEED_DEVICE,
                "user_data": fate}

    def launch_fields(self, row: dict[str, Any], disk_image: bool = False) -> dict[str, Any]:
        """LaunchSpec keyword arguments for the instance in `row` (an instances row)."""
        fields: dict[str, Any] = {}
        nic = self.store.row("SELECT * FROM nics WHERE instance_id = ?", [row["id"]])
        if self.has_seed(row, disk_image):
            seed = self.seed_path(row["id"])
            if not seed.exists():
                self.write_seed(row["id"], row["name"], row, user_mode=not nic and disk_image)
            fields["seed"] = str(seed)
        if nic:
            fields.update(self.networks.launch_fields(nic))
        else:
            rules = self.enforcer.rules_of(self.enforcer.group_ids(row["id"]))
            from backend.drivers.qemu import passt
            from backend.network import usermode

            plan = usermode.compile_rules(rules)
            fields["restrict"] = plan.restrict
            if not plan.restrict and passt.available():  # else: slirp alone, unsealed
                fields["egress"] = passt.HOST if plan.host_loopback else passt.SEALED
        return fields

    def view(self, instance_ids: list[str] | None) -> dict[str, dict[str, Any]]:
        """Per instance: its group names, network name and address (for Instance records)."""
        out: dict[str, dict[str, Any]] = {}
        for r in self.store.rows(
            "SELECT s.instance_id, g.name FROM instance_sgs s JOIN security_groups g"
            " ON g.id = s.group_id ORDER BY s.instance_id, s.position"
        ):
            if instance_ids is None or r["instance_id"] in instance_ids:
                out.setdefault(r["instance_id"], {"groups": []})["groups"].append(r["name"])
        for r in self.store.rows(
            "SELECT n.instance_id, n.ip, w.name FROM nics n JOIN networks w"
            " ON w.id = n.network_id"
        ):
            entry = out.setdefault(r["instance_id"], {"groups": []})
            entry["network"], entry["ip"] = r["name"], r["ip"]
        return out

    def forget(self, db: Any, instance_id: str) -> None:
        """Inside the delete transaction: the instance's groups and NIC rows."""
        db.execute("DELETE FROM instance_sgs WHERE instance_id = ?", [instance_id])
        db.execute("DELETE FROM nics WHERE instance_id = ?", [instance_id])

    def forgotten(self, instance_id: str, network_id: str = "") -> None:
        """After the delete committed: the seed ISO, and the network's firewall."""
        self.seed_path(instance_id).unlink(missing_ok=True)
        if network_id:
            self.networks.refresh(network_id)


def check_user_data_file(path: str) -> bytes:
    from backend.network import cloudinit

    file = Path(path).expanduser()
    if not file.is_file():
        raise ValidationError(f"user-data file {path!r} does not exist")
    if file.stat().st_size > cloudinit.MAX_USER_DATA:
        raise ValidationError(f"user-data file {path!r} is larger than"
                              f" {cloudinit.MAX_USER_DATA} bytes")
    return file.read_bytes()
