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
    secret: str = ""  # a 0600 file holding the qcow2 LUKS passphrase; "" = not encrypted

    @property
    def secret_id(self) -> str:
        return f"sec-{self.node}"

    @property
    def device_id(self) -> str:
        return f"dev-{self.node}"

    @property
    def serial(self) -> str:
        """virtio-blk's serial: the disk id, so the guest has /dev/disk/by-id/virtio-<id>."""
        if len(self.node) > SERIAL_MAX:  # QEMU would cut it: the link would name no disk
            raise ValueError(f"disk id {self.node!r} is longer than virtio-blk's"
                             f" {SERIAL_MAX}-byte serial")
        return self.node


def egress_mac(mac: str) -> str:
    """The MAC of user mode's second NIC (egress): the first's with its last byte flipped."""
    head, last = mac.rsplit(":", 1)
    return f"{head}:{int(last, 16) ^ 0x80:02x}"


SEED_NODE, SEED_DEVICE, SEED_CONTROLLER = "cidata", "dev-cidata", "scsi-cidata"
# TCG's translation buffer (MiB): QEMU 7.2's default is 1 GiB per guest and a booting Debian
# 12 cloud image fills ~830 MiB of it (QEMU RSS 1100 MiB for a 512 MiB guest); capped at 256:
# RSS 540-570 MiB, boot to cloud-init finished no slower (128: ~400 MiB, no slower either,
# but less room for what the guest runs later). The tiny guest uses < 64 MiB (RSS ~270).
TB_SIZE_MIB = 256
SERIAL_MAX = 20  # bytes of a virtio-blk serial (VIRTIO_BLK_ID_BYTES); lecs disk ids are 12
# Fixed PCI slots for every device but the disks, at the top of bus 0: the disks take the
# free slots from 2 in their order (system disk first, 17 at most: 0x02-0x12), a hot-plugged
# one the next free slot, so no disk, NIC or the seed moves when disks come and go.
SLOT_NIC, SLOT_EGRESS, SLOT_BALLOON, SLOT_RNG, SLOT_SEED = "0x18", "0x19", "0x1a", "0x1b", "0x1c"


def seed_options(path: str) -> dict[str, object]:
    """The seed ISO's read-only block node (`-blockdev`, or QMP blockdev-change-medium's)."""
    return {"driver": "raw", "node-name": SEED_NODE, "read-only": True,
            "file": {"driver": "file", "filename": path, "read-only": True}}


def qemu_opt(value: str) -> str:
    """Escape a value for QEMU's `key=value,…` option syntax (a comma is doubled)."""
    return value.replace(",", ",,")


def blockdev_options(drive: DriveSpec) -> dict[str, object]:
    """The `-blockdev` / QMP `blockdev-add` arguments of a drive (encrypted: qcow2 LUKS)."""
    node: dict[str, object] = {"driver": drive.format, "node-name": drive.node}
    if drive.secret:
        node["encrypt"] = {"format": "luks", "key-secret": drive.secret_id}
    node["file"] = {"driver": "file", "filename": drive.path}
    return node


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
    restrict: bool = False  # user-mode NIC: egress denied by the security groups
    # User mode: "" = slirp alone (restrict as above); "sealed" / "host-loopback" = slirp
    # restrict=on for the forwards plus a second NIC for egress, served by passt (passt.py)
    egress: str = ""
    seed: str = ""  # NoCloud seed ISO (label cidata): a read-only CD-ROM, see SEED_DEVICE
    tap: str = ""  # bridge mode: the NIC is this tap device instead of user-mode networking
    netns: str = ""  # bridge mode: run QEMU in this network namespace (where the tap lives)
    bridge: str = ""  # bridge mode: the driver plugs the tap into this bridge after launch
    machine: str = "pc"
    tb_size_mib: int = field(default_factory=lambda: TB_SIZE_MIB)  # TCG only; 0: QEMU's own
    binary: str = "qemu-system-x86_64"
    extra: tuple[str, ...] = field(default=())

    @property
    def qmp_socket(self) -> Path:
        return self.rundir / "qmp.sock"

    @property
    def events_socket(self) -> Path:  # the metrics sampler's long-lived session
        return self.rundir / "events.sock"

    @property
    def watch_socket(self) -> Path:  # the dashboard's QMP event listener (instance_watch)
        return self.rundir / "watch.sock"

    @property
    def serial_socket(self) -> Path:
        return self.rundir / "serial.sock"

    @property
    def serial_log(self) -> Path:
        return self.rundir / "serial.log"

    @property
    def egress_socket(self) -> Path:  # QEMU listens, passt is handed the connection
        return self.rundir / "egress.sock"

    @property
    def egress_mac(self) -> str:
        return egress_mac(self.mac)

    @property
    def pidfile(self) -> Path:
        return self.rundir / "qemu.pid"


def build_argv(spec: LaunchSpec, daemonize: bool = True) -> list[str]:
    argv = ["ip", "netns", "exec", spec.netns] if spec.netns else []
    argv += [
        spec.binary,
        "-name", f"{spec.name},process=lecs-{spec.instance_id}",
    ]
    if spec.accel == "tcg" and spec.tb_size_mib:  # QEMU's default buffer is 1 GiB, mostly used
        argv += ["-machine", spec.machine, "-accel", f"tcg,tb-size={spec.tb_size_mib}"]
    else:
        argv += ["-machine", f"{spec.machine},accel={spec.accel}"]
    if spec.accel == "kvm":
        argv += ["-cpu", "host"]
    argv += [
        "-m", str(spec.memory_mib),
        "-smp", str(spec.vcpus),
        "-nodefaults", "-no-user-config", "-display", "none",
        "-qmp", f"unix:{spec.qmp_socket},server=on,wait=off",
        "-qmp", f"unix:{spec.events_socket},server=on,wait=off",
        "-qmp", f"unix:{spec.watch_socket},server=on,wait=off",
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
        if drive.secret:  # the key stays in its 0600 file: only the path is on the command line
            argv += ["-object", f"secret,id={drive.secret_id},file={qemu_opt(drive.secret)}"]
        node = blockdev_options(drive)
        argv += ["-blockdev", json.dumps(node, separators=(",", ":"))]
        device = f"virtio-blk-pci,drive={drive.node},id={drive.device_id},serial={drive.serial}"
        if drive.boot and not spec.kernel:  # -kernel boots through its own option ROM
            device += ",bootindex=0"
        argv += ["-device", device]
    if spec.seed:  # a CD-ROM on its own virtio-scsi controller: sr0, so data disks are vdb…
        argv += ["-blockdev", json.dumps(seed_options(spec.seed), separators=(",", ":")),
                 "-device", f"virtio-scsi-pci,id={SEED_CONTROLLER},addr={SLOT_SEED}",
                 "-device", f"scsi-cd,bus={SEED_CONTROLLER}.0,drive={SEED_NODE},id={SEED_DEVICE}"]
    if spec.tap:
        netdev = f"tap,id=n0,ifname={spec.tap},script=no,downscript=no"
    else:
        restrict = spec.restrict or bool(spec.egress)
        netdev = "user,id=n0" + (",restrict=on" if restrict else "")
        for fwd in spec.forwards:
            netdev += (f",hostfwd={fwd.protocol}:{fwd.host_addr}:{fwd.host_port}"
                       f"-:{fwd.guest_port}")
    argv += [
        "-netdev", netdev,
        "-device", f"virtio-net-pci,netdev=n0,mac={spec.mac},romfile=,addr={SLOT_NIC}",
    ]
    if spec.egress and not spec.tap:
        argv += [
            "-netdev", f"stream,id=e0,server=on,addr.type=unix,addr.path={spec.egress_socket}",
            "-device", f"virtio-net-pci,netdev=e0,mac={spec.egress_mac},romfile=,"
                       f"addr={SLOT_EGRESS}",
        ]
    argv += [
        "-device", f"virtio-balloon-pci,id=balloon0,addr={SLOT_BALLOON}",
        # the host's entropy: a guest's first getrandom() (SSH host keys) need not wait
        "-object", "rng-random,id=rng0,filename=/dev/urandom",
        "-device", f"virtio-rng-pci,rng=rng0,id=rng0-dev,addr={SLOT_RNG}",
    ]
    argv += list(spec.extra)
    return argv
