"""The QEMU command line is a pure function of the LaunchSpec: golden argv lists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backend.drivers.qemu.argv import DriveSpec, ForwardSpec, LaunchSpec, build_argv

RUN = Path("/tmp/lecs-0/abc/i-test")


def test_kernel_instance_argv_is_golden() -> None:
    spec = LaunchSpec(
        instance_id="i-test", name="web1", vcpus=1, memory_mib=256, accel="tcg", rundir=RUN,
        drives=(DriveSpec("d-sys", "/h/disks/d-sys.qcow2", "qcow2", boot=True),),
        forwards=(ForwardSpec("tcp", "127.0.0.1", 40022, 22),
                  ForwardSpec("tcp", "127.0.0.1", 40080, 80)),
        kernel="/h/images/img-1/kernel", initrd="/h/images/img-1/initrd",
        cmdline="console=ttyS0 panic=-1 quiet", mac="52:54:00:aa:bb:cc",
    )
    assert build_argv(spec) == [
        "qemu-system-x86_64",
        "-name", "web1,process=lecs-i-test",
        "-machine", "pc", "-accel", "tcg,tb-size=256",  # TCG's translation buffer capped
        "-m", "256", "-smp", "1",
        "-nodefaults", "-no-user-config", "-display", "none",
        "-qmp", "unix:/tmp/lecs-0/abc/i-test/qmp.sock,server=on,wait=off",
        "-qmp", "unix:/tmp/lecs-0/abc/i-test/events.sock,server=on,wait=off",
        "-qmp", "unix:/tmp/lecs-0/abc/i-test/watch.sock,server=on,wait=off",
        "-chardev", "socket,id=ser0,path=/tmp/lecs-0/abc/i-test/serial.sock,server=on,"
        "wait=off,logfile=/tmp/lecs-0/abc/i-test/serial.log",
        "-serial", "chardev:ser0",
        "-daemonize", "-pidfile", "/tmp/lecs-0/abc/i-test/qemu.pid",
        "-kernel", "/h/images/img-1/kernel",
        "-initrd", "/h/images/img-1/initrd",
        "-append", "console=ttyS0 panic=-1 quiet",
        "-blockdev",
        '{"driver":"qcow2","node-name":"d-sys","file":{"driver":"file",'
        '"filename":"/h/disks/d-sys.qcow2"}}',
        "-device", "virtio-blk-pci,drive=d-sys,id=dev-d-sys,serial=d-sys",
        "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:40080-:80",
        "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:aa:bb:cc,romfile=,addr=0x18",
        "-device", "virtio-balloon-pci,id=balloon0,addr=0x1a",
        "-object", "rng-random,id=rng0,filename=/dev/urandom",
        "-device", "virtio-rng-pci,rng=rng0,id=rng0-dev,addr=0x1b",
    ]


def test_disk_image_kvm_argv_is_golden() -> None:
    spec = LaunchSpec(
        instance_id="i-k", name="db", vcpus=4, memory_mib=8192, accel="kvm", rundir=RUN,
        drives=(DriveSpec("d-a", "/h/a.qcow2", boot=True), DriveSpec("d-b", "/h/b.raw", "raw")),
        mac="52:54:00:00:00:01",
    )
    assert build_argv(spec, daemonize=False) == [
        "qemu-system-x86_64",
        "-name", "db,process=lecs-i-k",
        "-machine", "pc,accel=kvm", "-cpu", "host",
        "-m", "8192", "-smp", "4",
        "-nodefaults", "-no-user-config", "-display", "none",
        "-qmp", "unix:/tmp/lecs-0/abc/i-test/qmp.sock,server=on,wait=off",
        "-qmp", "unix:/tmp/lecs-0/abc/i-test/events.sock,server=on,wait=off",
        "-qmp", "unix:/tmp/lecs-0/abc/i-test/watch.sock,server=on,wait=off",
        "-chardev", "socket,id=ser0,path=/tmp/lecs-0/abc/i-test/serial.sock,server=on,"
        "wait=off,logfile=/tmp/lecs-0/abc/i-test/serial.log",
        "-serial", "chardev:ser0",
        "-blockdev", '{"driver":"qcow2","node-name":"d-a","file":{"driver":"file",'
        '"filename":"/h/a.qcow2"}}',
        "-device", "virtio-blk-pci,drive=d-a,id=dev-d-a,serial=d-a,bootindex=0",
        "-blockdev", '{"driver":"raw","node-name":"d-b","file":{"driver":"file",'
        '"filename":"/h/b.raw"}}',
        "-device", "virtio-blk-pci,drive=d-b,id=dev-d-b,serial=d-b",
        "-netdev", "user,id=n0",
        "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01,romfile=,addr=0x18",
        "-device", "virtio-balloon-pci,id=balloon0,addr=0x1a",
        "-object", "rng-random,id=rng0,filename=/dev/urandom",
        "-device", "virtio-rng-pci,rng=rng0,id=rng0-dev,addr=0x1b",
    ]


def test_argv_never_contains_a_shell() -> None:
    spec = LaunchSpec(instance_id="i-x", name="a;rm -rf /", vcpus=1, memory_mib=128,
                      accel="tcg", rundir=RUN)
    argv = build_argv(spec)
    assert argv[0] == "qemu-system-x86_64"
    assert "sh" not in argv and "-c" not in argv


def test_encrypted_drive_gets_a_secret_object_from_a_file() -> None:
    spec = LaunchSpec(
        instance_id="i-e", name="vault", vcpus=1, memory_mib=256, accel="tcg", rundir=RUN,
        drives=(DriveSpec("d-enc", "/h/disks/d-enc.qcow2", secret="/h/keys/d-enc,x.key"),),
        mac="52:54:00:00:00:02",
    )
    argv = build_argv(spec, daemonize=False)
    at = argv.index("-object")
    assert argv[at:at + 6] == [
        "-object", "secret,id=sec-d-enc,file=/h/keys/d-enc,,x.key",
        "-blockdev",
        '{"driver":"qcow2","node-name":"d-enc","encrypt":{"format":"luks","key-secret":'
        '"sec-d-enc"},"file":{"driver":"file","filename":"/h/disks/d-enc.qcow2"}}',
        "-device", "virtio-blk-pci,drive=d-enc,id=dev-d-enc,serial=d-enc",
    ]


def test_network_and_seed_argv_is_golden() -> None:
    """restrict=on for denied egress, the NoCloud seed read-only, a tap in a namespace."""
    base: dict[str, Any] = dict(instance_id="i-n", name="n1", vcpus=1, memory_mib=128,
                                accel="tcg", rundir=RUN, mac="52:54:00:00:00:02")
    user = build_argv(LaunchSpec(**base, restrict=True, seed="/h/seeds/i-n.iso",
                                 forwards=(ForwardSpec("udp", "0.0.0.0", 5353, 53),)),
                      daemonize=False)
    tail = user[user.index("-blockdev"):]
    assert tail == [
        "-blockdev", '{"driver":"raw","node-name":"cidata","read-only":true,"file":'
        '{"driver":"file","filename":"/h/seeds/i-n.iso","read-only":true}}',
        "-device", "virtio-scsi-pci,id=scsi-cidata,addr=0x1c",
        "-device", "scsi-cd,bus=scsi-cidata.0,drive=cidata,id=dev-cidata",
        "-netdev", "user,id=n0,restrict=on,hostfwd=udp:0.0.0.0:5353-:53",
        "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:02,romfile=,addr=0x18",
        "-device", "virtio-balloon-pci,id=balloon0,addr=0x1a",
        "-object", "rng-random,id=rng0,filename=/dev/urandom",
        "-device", "virtio-rng-pci,rng=rng0,id=rng0-dev,addr=0x1b",
    ]
    bridged = build_argv(LaunchSpec(**base, tap="ltp-abc", netns="lab", bridge="lbr-x",
                                    forwards=(ForwardSpec("tcp", "127.0.0.1", 1, 2),)),
                         daemonize=False)
    assert bridged[:5] == ["ip", "netns", "exec", "lab", "qemu-system-x86_64"]
    netdev = bridged[bridged.index("-netdev") + 1]
    assert netdev == "tap,id=n0,ifname=ltp-abc,script=no,downscript=no"


def test_rundir_text_is_the_rundir(tmp_path: Path) -> None:
    from backend.drivers.qemu.local import LocalDriver
    from backend.inventory.paths import Paths

    driver = LocalDriver(Paths(home=tmp_path, runtime=tmp_path / "run"))
    assert driver.rundir_text("i-abc") == str(driver.rundir("i-abc"))


def test_a_disk_serial_is_its_id_and_fits_virtio_blk() -> None:
    """/dev/disk/by-id/virtio-<disk id>: a lecs disk id fits virtio-blk's 20-byte serial."""
    import pytest

    from backend.inventory.ids import new_id

    assert len(new_id("d")) <= 20
    assert DriveSpec(new_id("d"), "/h/x.qcow2").serial.startswith("d-")
    with pytest.raises(ValueError, match="20-byte serial"):
        build_argv(LaunchSpec(instance_id="i-x", name="x", vcpus=1, memory_mib=128,
                              accel="tcg", rundir=RUN, drives=(DriveSpec("d-" + "x" * 19, "/h"),)))


def test_every_device_but_the_disks_has_a_fixed_slot() -> None:
    """The seed, NICs, balloon and rng sit at fixed PCI slots whatever the disks: a data disk
    added or removed moves none of them (nor the disks before it)."""
    def slots(n: int) -> list[str]:
        argv = build_argv(LaunchSpec(
            instance_id="i-s", name="s", vcpus=1, memory_mib=128, accel="tcg", rundir=RUN,
            drives=tuple(DriveSpec(f"d-{i}", f"/h/{i}") for i in range(n)),
            seed="/h/seed.iso", egress="sealed"), daemonize=False)
        devices = [argv[i + 1] for i, a in enumerate(argv) if a == "-device"]
        return [d for d in devices if "addr=" in d or d.startswith("virtio-blk")][n:]

    assert slots(1) == slots(17)
    assert [d.rsplit("addr=", 1)[1] for d in slots(1)] == \
        ["0x1c", "0x18", "0x19", "0x1a", "0x1b"]


def test_tcg_translation_buffer_cap_only_under_tcg() -> None:
    base: dict[str, Any] = dict(instance_id="i-t", name="t", vcpus=1, memory_mib=512,
                                rundir=RUN)
    tcg = build_argv(LaunchSpec(**base, accel="tcg", tb_size_mib=128), daemonize=False)
    assert tcg[3:7] == ["-machine", "pc", "-accel", "tcg,tb-size=128"]
    assert "accel=tcg" not in " ".join(tcg)  # -accel and -machine accel= exclude each other
    kvm = build_argv(LaunchSpec(**base, accel="kvm", tb_size_mib=128), daemonize=False)
    assert kvm[3:7] == ["-machine", "pc,accel=kvm", "-cpu", "host"]  # KVM unchanged
    qemus_own = build_argv(LaunchSpec(**base, accel="tcg", tb_size_mib=0), daemonize=False)
    assert qemus_own[3:5] == ["-machine", "pc,accel=tcg"]
