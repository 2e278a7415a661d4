"""Typed records the engine hands to the CLI and the dashboard: instances, images, disks,
events, host facts. Monitoring, network and storage records live in models_metrics.py,
models_network.py and models_storage.py: each module of dataclasses costs ~0.5 ms a class to
import, and the dashboard's first frame needs only these."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class InstanceState(enum.StrEnum):
    PENDING = "pending"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    REBOOTING = "rebooting"
    ERROR = "error"
    DELETED = "deleted"


class ImageState(enum.StrEnum):
    CREATING = "creating"
    AVAILABLE = "available"
    ERROR = "error"


class DiskState(enum.StrEnum):
    CREATING = "creating"
    AVAILABLE = "available"
    IN_USE = "in-use"
    RESIZING = "resizing"
    ERROR = "error"
    DELETED = "deleted"


@dataclass(slots=True, frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_mib: int
    description: str = ""


@dataclass(slots=True)
class Image:
    id: str
    name: str
    format: str  # qcow2 | raw | kernel
    size_bytes: int
    os: str
    source: str
    checksum: str
    state: ImageState
    created_at: float
    path: str = ""
    kernel: str = ""
    initrd: str = ""
    cmdline: str = ""
    disks: list[ImageDisk] = field(default_factory=list)  # from an instance: system (+ data)

    @property
    def is_kernel(self) -> bool:
        return self.format == "kernel"

    @property
    def data_disks(self) -> list[ImageDisk]:
        """The data disks of a full-instance image (each becomes a disk of a new instance)."""
        return [d for d in self.disks if d.role == "data"]


@dataclass(slots=True)
class ImageDisk:
    """One disk captured in an image made from an instance (backend/image_disks.py)."""

    position: int  # 0 = the system disk, then the data disks in bus order
    role: str  # system | data
    path: str
    size_gib: int
    virtual_size: int
    format: str
    encrypted: bool  # LUKS with the image's own key for this disk
    checksum: str  # algorithm:hex checksum (blake3) of the file as stored
    source_disk_id: str = ""
    source_disk_name: str = ""


@dataclass(slots=True)
class Disk:
    id: str
    name: str
    size_gib: int
    format: str
    role: str  # system | data
    state: DiskState
    path: str
    instance_id: str | None
    delete_with_instance: bool
    encrypted: bool
    created_at: float
    backing_image_id: str | None = None
    position: int = 0  # order on the instance's bus; the system disk is 0
    snapshot_head: str | None = None  # the snapshot the current contents descend from


@dataclass(slots=True)
class Forward:
    protocol: str
    host_addr: str
    host_port: int
    guest_port: int


@dataclass(slots=True)
class Instance:
    id: str
    name: str
    type: str
    vcpus: int
    memory_mib: int
    image_id: str
    image_name: str
    state: InstanceState
    created_at: float
    started_at: float | None
    pid: int | None
    accel: str
    last_error: str
    tags: dict[str, str] = field(default_factory=dict)
    disks: list[Disk] = field(default_factory=list)
    forwards: list[Forward] = field(default_factory=list)
    runtime_dir: str = ""
    security_groups: list[str] = field(default_factory=list)  # group names
    key_pair: str = ""
    hostname: str = ""
    network: str = ""  # "" = user-mode networking; else a bridge network's name
    ip: str = ""  # the address on that network
    egress_restricted: bool = False  # user mode: restrict=on

    def port_for(self, guest_port: int) -> int | None:
        for fwd in self.forwards:
            if fwd.guest_port == guest_port:
                return fwd.host_port
        return None

    @property
    def uptime(self) -> float | None:
        import time

        if self.state is InstanceState.RUNNING and self.started_at:
            return max(0.0, time.time() - self.started_at)
        return None


@dataclass(slots=True)
class Event:
    id: int
    time: float
    user: str
    action: str
    resource: str
    parameters: dict[str, Any]
    result: str  # success | failure
    error: str
    duration_ms: float


@dataclass(slots=True, frozen=True)
class HostFacts:
    qemu_version: str
    accel: str
    accel_reason: str
    cpu_count: int
    memory_mib: int
    hostname: str
