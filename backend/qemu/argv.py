"""Build the QEMU command line: a pure function of a LaunchSpec, tested against golden argv."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class DriveSpec:
    node: str  # block node name, also the device id prefix
    path: str
    format: str = "qcow2"
    boot: bool = False


@dataclass(frozen=True, slots=True)
class ForwardSpec:
    protocol: str
    host_addr: str
    host_port: int
    guest_port: int


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    instance_id: str
    name: str
    vcpus: int
    memory_mib: int
    accel: str
    rundir: Path
    drives: tuple[DriveSpec, ...] = ()
    forwards: tuple[ForwardSpec, ...] = ()
    kernel: str = ""
    initrd: str = ""
    cmdline: str = ""
    mac: str = "52:54:00:12:34:56"
    machine: str = "pc"
    binary: str = "qemu-system-x86_64"
    extra: tuple[str, ...] = field(default=())

    @property
    def qmp_socket(self) -> Path:
        return self.rundir / "qmp.sock"

    @property
    def events_socket(self) -> Path:
        return self.rundir / "events.sock"

    @property
    def serial_socket(self) -> Path:
        return self.rundir / "serial.sock"

    @property
    def serial_log(self) -> Path:
        return self.rundir / "serial.log"

    @property
    def pidfile(self) -> Path:
        return self.rundir / "qemu.pid"


def build_argv(spec: LaunchSpec, daemonize: bool = True) -> list[str]:
    argv = [
        spec.binary,
        "-name", f"{spec.name},process=lecs-{spec.instance_id}",
        "-machine", f"{spec.machine},accel={spec.accel}",
    ]
    if spec.accel == "kvm":
        argv += ["-cpu", "host"]
    argv += [
        "-m", str(spec.memory_mib),
        "-smp", str(spec.vcpus),
        "-nodefaults", "-no-user-config", "-display", "none",
        "-qmp", f"unix:{spec.qmp_socket},server=on,wait=off",
        "-qmp", f"unix:{spec.events_socket},server=on,wait=off",
        "-chardev",
        f"socket,id=ser0,path={spec.serial_socket},server=on,wait=off,logfile={spec.serial_log}",
        "-serial", "chardev:ser0",
    ]
    if daemonize:
        argv += ["-daemonize", "-pidfile", str(spec.pidfile)]
    if spec.kernel:
        argv += ["-kernel", spec.kernel]
        if spec.initrd:
            argv += ["-initrd", spec.initrd]
        if spec.cmdline:
            argv += ["-append", spec.cmdline]
    for drive in spec.drives:
        node = {
            "driver": drive.format,
            "node-name": drive.node,
            "file": {"driver": "file", "filename": drive.path},
        }
        argv += ["-blockdev", json.dumps(node, separators=(",", ":"))]
        device = f"virtio-blk-pci,drive={drive.node},id=dev-{drive.node}"
        if drive.boot and not spec.kernel:  # -kernel boots through its own option ROM
            device += ",bootindex=0"
        argv += ["-device", device]
    netdev = "user,id=n0"
    for fwd in spec.forwards:
        netdev += f",hostfwd={fwd.protocol}:{fwd.host_addr}:{fwd.host_port}-:{fwd.guest_port}"
    argv += [
        "-netdev", netdev,
        "-device", f"virtio-net-pci,netdev=n0,mac={spec.mac},romfile=",
        "-device", "virtio-balloon-pci,id=balloon0",
    ]
    argv += list(spec.extra)
    return argv
