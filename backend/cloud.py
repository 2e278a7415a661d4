"""Cloud: the one facade the dashboard and the CLI call. It never imports the UI.

Services the Instances view does not need at start (images, network, storage, monitoring) are
built — and their modules imported — on first access, so opening the dashboard stays quick;
the attribute API (`cloud.sgs`, `cloud.disks`, `cloud.metrics`, …) is unchanged.
"""

from __future__ import annotations

import os
import platform
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.compute.catalogue import Catalogue
from backend.compute.instances import Instances
from backend.drivers.protocol import Driver
from backend.drivers.qemu import accel
from backend.drivers.qemu.local import LocalDriver
from backend.inventory.audit import Audit
from backend.inventory.journal import Journal
from backend.inventory.paths import TINY, Paths
from backend.inventory.records import HostFacts
from backend.inventory.store import Store

if TYPE_CHECKING:
    from collections.abc import Callable

    from backend.compute.operations import InstanceOps
    from backend.compute.watch import InstanceWatcher
    from backend.images.service import Images
    from backend.monitoring.alarms import Alarms
    from backend.monitoring.service import Metrics
    from backend.network.groups import SecurityGroups
    from backend.network.keypairs import KeyPairs
    from backend.network.networks import Networks
    from backend.ram.accesskeys import AccessKeys
    from backend.storage.backups import Backups
    from backend.storage.disks import Disks
    from backend.storage.keystore import KeyStore
    from backend.storage.snapshots import Snapshots


class Cloud:
    """One inventory (LECS_HOME) and the driver that runs its instances."""

    def __init__(self, paths: Paths | None = None, driver: Driver | None = None) -> None:
        self.paths = paths or Paths.from_env()
        self.paths.ensure()
        self.store = Store(self.paths.db)
        self.driver: Driver = driver or LocalDriver(self.paths)
        self.audit = Audit(self.store)
        self.types = Catalogue(self.store)
        self.journal = Journal(self.store, self.audit)
        self.instances = Instances(
            self.store, self.paths, self.audit, self.driver, self.types, lambda: self.images,
            self.journal,
        )
        self._recovery_handlers()  # before anything can recover: the services come later

    # Images (IMS analog): built, and its module imported, on first use.
    @cached_property
    def images(self) -> Images:
        from backend.images.service import Images

        return Images(self.store, self.paths, self.audit, self.journal)

    @cached_property
    def instance_ops(self) -> InstanceOps:
        """Pause, resume, rename, console output, … (backend/compute/operations.py)."""
        from backend.compute.operations import InstanceOps

        return InstanceOps(self.instances)

    # Network: security groups, key pairs, bridge networks (backend/network), the ones the
    # instances use.
    @property
    def sgs(self) -> SecurityGroups:
        return self.instances.net.groups

    @property
    def keypairs(self) -> KeyPairs:
        return self.instances.net.keypairs

    @property
    def networks(self) -> Networks:
        return self.instances.net.networks

    # Storage: disks (EVS), snapshots, backups (CSBS), per-disk keys (KMS analog).
    @cached_property
    def keys(self) -> KeyStore:
        from backend.storage.keystore import KeyStore

        return KeyStore(self.paths)

    @cached_property
    def disks(self) -> Disks:
        from backend.storage.disks import Disks

        return Disks(self.store, self.paths, self.audit, self.driver,
                     self.instances.locks, self.keys, self.instances.reconcile, self.journal)

    @cached_property
    def snapshots(self) -> Snapshots:
        from backend.storage.snapshots import Snapshots

        return Snapshots(self.store, self.audit, self.driver, self.disks)

    @cached_property
    def backups(self) -> Backups:
        from backend.storage.backups import Backups

        return Backups(self.store, self.paths, self.audit, self.driver, self.disks,
                       self.keys, self.instances.locks)

    # Monitoring: history, sampler, alarms (API in backend/monitoring/__init__.py).
    @cached_property
    def metrics(self) -> Metrics:
        from backend.monitoring.service import Metrics

        return Metrics(self.store, self.driver, self.paths, self.audit, self.journal,
                       on_status=self.instances.follow_status)

    @property
    def alarms(self) -> Alarms:
        return self.metrics.alarms

    # RAM: the access keys `lecs serve` checks API signatures with.
    @cached_property
    def accesskeys(self) -> AccessKeys:
        from backend.ram.accesskeys import AccessKeys

        return AccessKeys(self.store, self.paths, self.audit, self.journal)

    @classmethod
    async def open(cls, home: str | None = None) -> Cloud:
        """Open an inventory; on first run register the tiny guest as image `tiny`."""
        cloud = cls(Paths.from_env(home))
        if cloud.store.read_only:  # it can be read, not recovered: writes are refused
            return cloud
        await cloud.journal.recover()  # every start is a recovery: before anything else
        await cloud.instances.follow_paused()  # resume guests an I/O error paused, if it can
        if cloud.store.row("SELECT id FROM images WHERE name = ?", [TINY]) is None:
            await cloud.images.ensure_tiny()  # first use: register the tiny guest
        return cloud

    def _recovery_handlers(self) -> None:
        """What recovery does with each kind of effect a killed operation left (journal)."""

        async def instance_settle(action: str, data: dict[str, Any]) -> None:
            from backend.compute import recovery

            await recovery.settle(self.instances, action, data)

        async def instance_purge(action: str, data: dict[str, Any]) -> None:
            from backend.compute import recovery

            await recovery.purge(self.instances, action, data)

        async def image_purge(action: str, data: dict[str, Any]) -> None:
            from backend.images import transfer

            if not str(data["image"]).startswith("img-") or "/" in str(data["image"]):
                return  # not an id lecs made: touch nothing
            row = self.store.row("SELECT state FROM images WHERE id = ?", [data["image"]])
            if row is None or row["state"] != "available":  # not finished: roll it back
                transfer.discard(self.images, str(data["image"]))
                self.audit.record("image.recover", str(data["image"]),
                                  {"interrupted": action, "outcome": "rolled back"},
                                  "success", "")

        async def disk_sync(action: str, data: dict[str, Any]) -> None:
            from backend.storage import recovery

            await recovery.sync(self.disks, action, data)

        async def forwards_sync(action: str, data: dict[str, Any]) -> None:
            from backend.network import recovery

            closed = await recovery.sync_forwards(self.store, self.driver, data)
            self.audit.record("sg.recover", ",".join(sorted(data.get("forwards", {}))),
                              {"interrupted": action, "closed": closed}, "success", "")

        async def snapshot_sync(action: str, data: dict[str, Any]) -> None:
            from backend.storage import recovery

            await recovery.sync_snapshot(self.disks, action, data)

        async def backup_sync(action: str, data: dict[str, Any]) -> None:
            from backend.storage import recovery

            await recovery.sync_backup(self.backups, action, data)

        async def keypair_sync(action: str, data: dict[str, Any]) -> None:
            from backend.network import keypairs

            keypairs.recover(self.keypairs, data)

        async def network_sync(action: str, data: dict[str, Any]) -> None:
            from backend.network import networks

            networks.recover(self.networks, action, data)

        async def passt_repair(action: str, data: dict[str, Any]) -> None:
            from backend.network import recovery

            done = recovery.repair_egress(self.store, self.driver, data)
            if done:
                self.audit.record("sg.recover", str(data["instance"]),
                                  {"interrupted": action, "egress": done}, "success", "")

        async def seed_sync(action: str, data: dict[str, Any]) -> None:
            self.instances.net.sync_seed(str(data["instance"]))

        async def accesskey_sync(action: str, data: dict[str, Any]) -> None:
            from backend.ram import accesskeys

            done = accesskeys.recover(self.accesskeys, data)
            if done:
                self.audit.record("accesskey.recover", str(data["key"]),
                                  {"interrupted": action, "outcome": done}, "success", "")

        self.journal.handle("accesskey.sync", accesskey_sync)

        async def instance_runstate(action: str, data: dict[str, Any]) -> None:
            from backend.compute import pause_resume

            await pause_resume.follow_runstate(self.instances, action, data)

        async def instance_rebuild(action: str, data: dict[str, Any]) -> None:
            from backend.compute import rebuild

            await rebuild.recover(self.instances, action, data)

        async def clone_jobs(action: str, data: dict[str, Any]) -> None:
            from backend.compute import clone

            await clone.abort_jobs(self.instances, action, data)

        self.journal.handle("instance.clone-jobs", clone_jobs)
        self.journal.handle("instance.rebuild", instance_rebuild)
        self.journal.handle("instance.runstate", instance_runstate)
        self.journal.handle("seed.sync", seed_sync)
        self.journal.handle("passt", passt_repair)
        self.journal.handle("image.purge", image_purge)
        self.journal.handle("network.sync", network_sync)
        self.journal.handle("keypair.sync", keypair_sync)
        self.journal.handle("backup.sync", backup_sync)
        self.journal.handle("snapshot.sync", snapshot_sync)
        self.journal.handle("forwards.sync", forwards_sync)
        self.journal.handle("disk.sync", disk_sync)
        self.journal.handle("instance.settle", instance_settle)
        self.journal.handle("instance.purge", instance_purge)

    def reader(self) -> Cloud:
        """Another Cloud over the same inventory and driver, with its own SQLite connection:
        for one other thread (the dashboard lists and reconciles in one off its UI loop).
        Build it, use it and close it in that thread."""
        return Cloud(self.paths, self.driver)

    def watcher(self, changed: Callable[[str, str], None]) -> InstanceWatcher:
        """QMP event listener: `changed(instance_id, event)` when QEMU reports a state event
        or hangs up (backend/compute/watch.py); `track()` the ids to watch."""
        from backend.compute.watch import InstanceWatcher

        return InstanceWatcher(self.driver.rundir, changed)

    def unowned_files(self) -> list[Path]:
        """Files under LECS_HOME no row owns: reported, never removed (inventory/sweep.py)."""
        from backend.inventory.sweep import unowned

        return unowned(self.paths, self.store)

    async def unsafe_chains(self) -> list[str]:
        """Disks and disk images whose chain opens a file that is not lecs's own (a backing,
        data file or extent elsewhere): stored before imports were checked (issue #12)."""
        from backend.drivers.qemu.volume import Volume, owned_chain
        from backend.inventory.errors import LecsError

        found: list[str] = []
        items = [(f"image {r['name']}", r["path"], r["format"]) for r in self.store.rows(
            "SELECT name, path, format FROM images WHERE path != '' AND format != 'kernel'")]
        items += [(f"disk {r['name']}", r["path"], r["format"]) for r in self.store.rows(
            "SELECT name, path, format FROM disks WHERE encrypted = 0")]
        for label, path, fmt in items:
            if not Path(path).is_absolute() or not Path(path).exists():
                continue  # a missing file is shown where the resource is listed
            try:
                await owned_chain(Volume(Path(path), format=fmt), self.paths.home, in_use=True)
            except LecsError as exc:
                found.append(f"{label}: {exc}")
        return found

    def recovery_failures(self) -> list[str]:
        """Recoveries that raised at this start (left in the journal for the next one)."""
        return list(self.journal.failures)

    def host_facts(self) -> HostFacts:
        import psutil

        from backend.network import isolation

        return HostFacts(
            qemu_version=accel.qemu_version(),
            accel=self.driver.accel,
            accel_reason=self.driver.accel_reason,
            cpu_count=os.cpu_count() or 1,
            memory_mib=psutil.virtual_memory().total >> 20,
            hostname=platform.node(),
            qemu_binary=accel.qemu_binary() or "",
            isolation=tuple(line.summary for line in isolation.report()),
        )

    def close(self) -> None:
        if "metrics" in self.__dict__:  # built only if something used monitoring
            self.metrics.close()
        self.store.close()
