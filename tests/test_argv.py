"""The QEMU command line is a pure function of the LaunchSpec: golden argv lists."""

from __future__ import annotations

from pathlib import Path

from backend.qemu.argv import DriveSpec, ForwardSpec, LaunchSpec, build_argv

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
        "-machine", "pc,accel=tcg",
        "-m", "256", "-smp", "1",
        "-nodefaults", "-no-user-config", "-display", "none",
        "-qmp", "unix:/tmp/lecs-0/abc/i-test/qmp.sock,server=on,wait=off",
        "-qmp", "unix:/tmp/lecs-0/abc/i-test/events.sock,server=on,wait=off",
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
        "-device", "virtio-blk-pci,drive=d-sys,id=dev-d-sys",
        "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:40080-:80",
        "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:aa:bb:cc,romfile=",
        "-device", "virtio-balloon-pci,id=balloon0",
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
        "-chardev", "socket,id=ser0,path=/tmp/lecs-0/abc/i-test/serial.sock,server=on,"
        "wait=off,logfile=/tmp/lecs-0/abc/i-test/serial.log",
        "-serial", "chardev:ser0",
        "-blockdev", '{"driver":"qcow2","node-name":"d-a","file":{"driver":"file",'
        '"filename":"/h/a.qcow2"}}',
        "-device", "virtio-blk-pci,drive=d-a,id=dev-d-a,bootindex=0",
        "-blockdev", '{"driver":"raw","node-name":"d-b","file":{"driver":"file",'
        '"filename":"/h/b.raw"}}',
        "-device", "virtio-blk-pci,drive=d-b,id=dev-d-b",
        "-netdev", "user,id=n0",
        "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01,romfile=",
        "-device", "virtio-balloon-pci,id=balloon0",
    ]


def test_argv_never_contains_a_shell() -> None:
    spec = LaunchSpec(instance_id="i-x", name="a;rm -rf /", vcpus=1, memory_mib=128,
                      accel="tcg", rundir=RUN)
    argv = build_argv(spec)
    assert argv[0] == "qemu-system-x86_64"
    assert "sh" not in argv and "-c" not in argv
