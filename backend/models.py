"""Typed records the engine hands to the CLI and the dashboard."""

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


# ---- monitoring (backend/metrics) ----------------------------------------------------
class Statistic(enum.StrEnum):
    AVG = "avg"
    MAX = "max"
    MIN = "min"


class Comparison(enum.StrEnum):
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="


class AlarmState(enum.StrEnum):
    OK = "ok"
    ALARM = "alarm"
    INSUFFICIENT_DATA = "insufficient_data"


@dataclass(slots=True, frozen=True)
class MetricSample:
    """One sampling instant of one resource (an instance id, or "host")."""

    resource: str
    t: float  # wall-clock seconds since the epoch
    values: dict[str, float | None]  # metric name -> value; None means "n/a", never a fake 0


@dataclass(slots=True, frozen=True)
class GuestCounters:
    """Cumulative counters a driver reads for one running instance; rates come from deltas."""

    t: float  # monotonic seconds when read
    vcpu_seconds: tuple[float, ...]  # CPU time of each vCPU thread
    rss_bytes: int | None = None
    disk_rd_bytes: int | None = None
    disk_wr_bytes: int | None = None
    disk_rd_ops: int | None = None
    disk_wr_ops: int | None = None
    mem_total_bytes: int | None = None  # guest view (virtio-balloon stats), None if unreported
    mem_available_bytes: int | None = None
    net_in_bytes: int | None = None  # guest view; None where the network mode has no counters
    net_out_bytes: int | None = None


@dataclass(slots=True)
class Alarm:
    id: str
    name: str
    resource: str  # instance id, or "host"
    metric: str
    statistic: Statistic
    comparison: Comparison
    threshold: float
    period: float  # seconds per evaluation period
    periods: int  # consecutive periods that must breach
    suppression: float  # seconds between repeated notifications while in alarm; 0 = once
    state: AlarmState
    reason: str
    state_changed_at: float
    created_at: float
    last_value: float | None = None
    last_notified_at: float | None = None


@dataclass(slots=True, frozen=True)
class AlarmChange:
    """A state change (or, with suppression, a reminder) the dashboard pops as a notice."""

    alarm_id: str
    name: str
    resource: str
    metric: str
    old: AlarmState
    new: AlarmState
    reason: str
    t: float
    value: float | None
    repeat: bool = False


# ---- network (backend/network) -------------------------------------------------------
class Direction(enum.StrEnum):
    INGRESS = "ingress"
    EGRESS = "egress"


class Protocol(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"
    ALL = "all"


class Action(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"


@dataclass(slots=True, frozen=True)
class Rule:
    """One security group rule; `cidr` is the source (ingress) or destination (egress)."""

    id: str
    group_id: str
    direction: Direction
    protocol: Protocol
    port_min: int  # 1..65535; 0 (with port_max 0) for icmp/all, which have no ports
    port_max: int
    cidr: str  # "" when remote_group names the peer instead
    action: Action
    priority: int  # 1..100, lower first; deny wins at equal priority
    description: str = ""
    remote_group: str = ""  # a group id as source/destination (bridge mode only)

    @property
    def ports(self) -> str:
        if self.port_min == 0:
            return "all"
        if self.port_min == self.port_max:
            return str(self.port_min)
        return f"{self.port_min}-{self.port_max}"

    @property
    def peer(self) -> str:
        return self.cidr or f"group:{self.remote_group}"


@dataclass(slots=True)
class SecurityGroup:
    id: str
    name: str
    description: str
    created_at: float
    rules: list[Rule] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)  # instance ids


@dataclass(slots=True, frozen=True)
class KeyPair:
    name: str
    key_type: str  # ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ...
    fingerprint: str  # SHA256:… as ssh-keygen -l prints it
    public_key: str
    comment: str
    created_at: float
    private_key_path: str = ""  # set when lecs generated the pair or was told where it is


@dataclass(slots=True)
class Network:
    """A bridge network (VPC/subnet analog): a Linux bridge, dnsmasq and nftables."""

    id: str
    name: str
    cidr: str
    bridge: str
    netns: str  # "" = the host's namespace
    created_at: float


# ---- storage (backend/snapshots, backend/backups) -------------------------------------
class SnapshotState(enum.StrEnum):
    CREATING = "creating"
    AVAILABLE = "available"
    ERROR = "error"


class BackupState(enum.StrEnum):
    CREATING = "creating"
    AVAILABLE = "available"
    ERROR = "error"


@dataclass(slots=True)
class Snapshot:
    """An internal qcow2 snapshot of one disk (EVS snapshot)."""

    id: str
    name: str
    disk_id: str
    disk_name: str
    state: SnapshotState
    created_at: float
    size_bytes: int  # data allocated in the disk when the snapshot was taken
    disk_size_gib: int  # the disk's size then; rollback returns to it
    parent_id: str | None = None
    online: bool = False  # taken from a running instance
    current: bool = False  # the disk's contents descend from this one


@dataclass(slots=True)
class BackupDisk:
    disk_id: str
    disk_name: str
    role: str
    position: int
    path: str
    virtual_size: int
    size_bytes: int
    encrypted: bool


@dataclass(slots=True)
class Backup:
    """A full copy of all of an instance's disks taken at one point in time (CSBS)."""

    id: str
    name: str
    instance_id: str
    instance_name: str
    state: BackupState
    created_at: float
    size_bytes: int
    online: bool
    error: str = ""
    disks: list[BackupDisk] = field(default_factory=list)
