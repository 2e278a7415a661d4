"""Records more than one service uses: the instance state (storage, images and monitoring
check it), images and disks (compute builds instances from them), audit events, host facts.

A record only one service uses lives in that service's `records.py` (compute/records.py,
storage/records.py, network/records.py, monitoring/records.py): each module of dataclasses
costs ~0.5 ms a class to import, and the dashboard's first frame needs only a few."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class InstanceState(enum.StrEnum):
    PENDING = "pending"
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"  # QEMU stopped the guest (an I/O error: the host disk is full)
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
    login_user: str = "root"  # who `lecs instance ssh` and the dashboard's s log in as
    disks: list[ImageDisk] = field(default_factory=list)  # from an instance: system (+ data)
    problem: str = ""  # found when read (a file is gone): shown with state error

    @property
    def is_kernel(self) -> bool:
        return self.format == "kernel"

    @property
    def data_disks(self) -> list[ImageDisk]:
        """The data disks of a full-instance image (each becomes a disk of a new instance)."""
        return [d for d in self.disks if d.role == "data"]


@dataclass(slots=True)
class ImageDisk:
    """One disk captured in an image made from an instance (backend/images/capture.py)."""

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
    problem: str = ""  # found when read (its file is gone): shown with state error




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
    qemu_binary: str = ""  # the qemu-system binary's path; "" when none is installed
    isolation: tuple[str, ...] = ()  # one line per networking mode (backend/network/isolation)
