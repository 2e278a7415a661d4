"""Records of compute: instance types, instances and their host port forwards."""

from __future__ import annotations

from dataclasses import dataclass, field

from backend.inventory.records import Disk, InstanceState


@dataclass(slots=True, frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_mib: int
    description: str = ""


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
    login_user: str = "root"  # its image's: who `lecs instance ssh` logs in as

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
