"""Cloud: the one facade the dashboard and the CLI call. It never imports the UI."""

from __future__ import annotations

import os
import platform

import psutil

from backend import accel
from backend.audit import Audit
from backend.backups import Backups
from backend.catalogue import Catalogue
from backend.disks import Disks
from backend.driver import Driver
from backend.images import Images
from backend.instances import Instances
from backend.keystore import KeyStore
from backend.metrics.service import Metrics
from backend.models import HostFacts
from backend.paths import Paths
from backend.qemu.local import LocalDriver
from backend.snapshots import Snapshots
from backend.store import Store


class Cloud:
    """One inventory (LECS_HOME) and the driver that runs its instances."""

    def __init__(self, paths: Paths | None = None, driver: Driver | None = None) -> None:
        self.paths = paths or Paths.from_env()
        self.paths.ensure()
        self.store = Store(self.paths.db)
        self.driver: Driver = driver or LocalDriver(self.paths)
        self.audit = Audit(self.store)
        self.types = Catalogue(self.store)
        self.images = Images(self.store, self.paths, self.audit)
        self.instances = Instances(
            self.store, self.paths, self.audit, self.driver, self.types, self.images
        )
        # Network: security groups, key pairs, bridge networks (backend/network).
        self.sgs = self.instances.net.groups
        self.keypairs = self.instances.net.keypairs
        self.networks = self.instances.net.networks
        # Storage: disks (EVS), snapshots, backups (CSBS), per-disk keys (KMS analog).
        self.keys = KeyStore(self.paths)
        self.disks = Disks(self.store, self.paths, self.audit, self.driver,
                           self.instances.locks, self.keys)
        self.snapshots = Snapshots(self.store, self.audit, self.driver, self.disks)
        self.backups = Backups(self.store, self.paths, self.audit, self.driver, self.disks,
                               self.keys, self.instances.locks)
        # Monitoring: history, sampler, alarms (API in backend/metrics/__init__.py).
        self.metrics = Metrics(self.store, self.driver, self.paths, self.audit)
        self.alarms = self.metrics.alarms

    @classmethod
    async def open(cls, home: str | None = None) -> Cloud:
        """Open an inventory; on first run register the tiny guest as image `tiny`."""
        cloud = cls(Paths.from_env(home))
        await cloud.images.ensure_tiny()
        return cloud

    def host_facts(self) -> HostFacts:
        return HostFacts(
            qemu_version=accel.qemu_version(),
            accel=self.driver.accel,
            accel_reason=self.driver.accel_reason,
            cpu_count=os.cpu_count() or 1,
            memory_mib=psutil.virtual_memory().total >> 20,
            hostname=platform.node(),
        )

    def close(self) -> None:
        self.metrics.close()
        self.store.close()
