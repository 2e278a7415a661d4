#!/usr/bin/env python3
"""Build a Debian 12 cloud image (real cloud-init, openssh-server) from Debian's packages only.

    python sample_data/build_cloud_image.py [--out DIR] [--force] [--no-install]

Writes DIR/debian-12.qcow2 and, last, DIR/manifest.json (DIR: $LECS_CLOUD_IMAGE_DIR or
~/.cache/lecs/cloud-image). Idempotent: a built image is kept; a lock keeps two builders apart
and the image appears only whole (written beside, then renamed). Needs root and loop devices;
the host packages it needs (debootstrap, extlinux, syslinux-common, e2fsprogs, fdisk,
qemu-utils) are installed with apt-get unless --no-install. Not run by scripts/bootstrap: the
cloud-image test tier (pytest -m cloud_image) needs it, and .ci/run builds it.

The image: `debootstrap --variant=minbase bookworm`, then in the chroot PACKAGES; cloud-init
reads only NoCloud (lecs's seed) and manages /etc/hosts; en_US.UTF-8 generated ahead (else
cloud-init's locale module fails); root locked, machine-id emptied, ssh host keys removed
(cloud-init makes them at first boot). A raw disk with one bootable MBR partition, ext4
labelled LABEL, extlinux booting `root=LABEL=… console=ttyS0`, syslinux's mbr.bin in the first
440 bytes; converted with `qemu-img convert -O qcow2 -c`. Its login user is `debian`.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

IMAGE, MANIFEST = "debian-12.qcow2", "manifest.json"
SUITE, MIRROR = "bookworm", "http://deb.debian.org/debian"
LABEL = "lecs-root"
LOGIN_USER = "debian"
DISK_MIB = 2048
PART_START, SECTOR = 2048, 512  # the partition starts at 1 MiB
PACKAGES = ("linux-image-cloud-amd64", "systemd-sysv", "udev", "dbus", "cloud-init",
            "cloud-guest-utils", "openssh-server", "ifupdown", "isc-dhcp-client", "iproute2",
            "sudo", "locales")  # dbus: logind handles the ACPI power button
HOST_PACKAGES = {"debootstrap": "debootstrap", "extlinux": "extlinux",
                 "/usr/lib/syslinux/mbr/mbr.bin": "syslinux-common", "mkfs.ext4": "e2fsprogs",
                 "sfdisk": "fdisk", "qemu-img": "qemu-utils", "losetup": "mount"}
MBR_BIN = Path("/usr/lib/syslinux/mbr/mbr.bin")
BUILD_VERSION = "3"  # bump when the image's recipe changes (a cached older one is rebuilt)
CLOUD_CFG = """# lecs: its seed is NoCloud; nothing else is probed
datasource_list: [ NoCloud, None ]
manage_etc_hosts: true
# host keys made at first boot: RSA 3072 and DSA cost ~40 s of CPU under TCG
ssh_genkeytypes: [ ed25519, ecdsa ]
grub_dpkg:
  enabled: false  # extlinux boots this image: no grub to configure
"""
# The initramfs holds only what finds and mounts the root disk (MODULES=most took 190 modules
# and ~15 s of the boot under TCG to load and probe); ext4 is built into the cloud kernel.
INITRAMFS_MODULES = ("virtio_pci", "virtio_blk", "virtio_scsi", "sd_mod", "ata_piix")
MASKED = ("e2scrub_reap.service",)  # LVM snapshots of ext4 checks: this image has no LVM
FSTAB = f"LABEL={LABEL} / ext4 defaults,errors=remount-ro 0 1\n"
INTERFACES = "auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n"


class BuildError(Exception):
    """A build step failed; the message is one line for the user."""


def _sudo_user() -> tuple[str, int, int] | None:
    """Who ran `sudo python3 build_cloud_image.py`: the image is theirs, in their cache."""
    try:
        name = os.environ["SUDO_USER"]
        ids = int(os.environ["SUDO_UID"]), int(os.environ["SUDO_GID"])
    except (KeyError, ValueError):
        return None
    return (name, *ids) if os.geteuid() == 0 and name != "root" else None


def default_out() -> Path:
    env = os.environ.get("LECS_CLOUD_IMAGE_DIR")
    if env:
        return Path(env).expanduser()
    sudo = _sudo_user()
    home = Path(os.path.expanduser(f"~{sudo[0]}")) if sudo else Path.home()
    base = os.environ.get("XDG_CACHE_HOME") or str(home / ".cache")
    return Path(base) / "lecs" / "cloud-image"


def _give_back(out: Path) -> None:
    """Under sudo: the output dir and what is in it belong to the user who asked."""
    sudo = _sudo_user()
    if sudo:
        for path in (out, out / IMAGE, out / MANIFEST, out / ".build.lock"):
            if path.exists():
                os.chown(path, sudo[1], sudo[2])


def manifest_ok(out: Path) -> bool:
    """A finished build of this recipe whose image is there with its recorded size."""
    try:
        manifest = json.loads((out / MANIFEST).read_text())
        return (manifest.get("build_version") == BUILD_VERSION
                and (out / IMAGE).stat().st_size == manifest.get("size"))
    except (OSError, ValueError, AttributeError):
        return False


def _run(argv: list[str], *, env: dict[str, str] | None = None) -> str:
    """ARGV's output; ENV, when given, is the whole environment (the chroot's own)."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                              env=env if env is not None else {**os.environ, "LC_ALL": "C"})
    except FileNotFoundError as exc:
        raise BuildError(f"{argv[0]} not found") from exc
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        raise BuildError(f"{' '.join(argv[:3])} failed: {(lines or ['no output'])[-1].strip()}")
    return proc.stdout


def host_ready(install: bool, log: Callable[[str], None]) -> None:
    """Root, loop devices and the host tools; missing tools installed with apt-get if allowed."""
    if os.geteuid() != 0:
        raise BuildError("needs root (debootstrap, loop devices, mount)")
    if not Path("/dev/loop-control").exists():
        raise BuildError("no loop devices (/dev/loop-control is missing)")
    missing = sorted({pkg for tool, pkg in HOST_PACKAGES.items()
                      if not (Path(tool).exists() if tool.startswith("/") else shutil.which(tool))})
    if not missing:
        return
    if not install:
        raise BuildError(f"missing host packages: {' '.join(missing)} (apt-get install them)")
    log(f"apt-get install {' '.join(missing)}…")
    _run(["apt-get", "update", "-qq"])
    _run(["apt-get", "install", "-y", "-qq", *missing],
         env={**os.environ, "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"})


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    with open(out / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mounts") as f:
        return [p for ln in f if (p := ln.split()[1]).startswith(prefix)]


def _remove_work(work: Path) -> None:
    """Delete a work dir, never through a mount left inside it (a bind of /dev would go)."""
    left = _mounts_under(work)
    if left:
        raise BuildError(f"still mounted, {work} kept: {' '.join(left)}")
    shutil.rmtree(work, ignore_errors=True)


@contextmanager
def _loop_partition(raw: Path) -> Iterator[Path]:
    """RAW's partition attached to a loop device by offset (no partition scan needed)."""
    dev = _run(["losetup", "--find", "--show", "--offset", str(PART_START * SECTOR),
                "--sizelimit", str((DISK_MIB << 20) - PART_START * SECTOR), str(raw)]).strip()
    try:
        yield Path(dev)
    finally:
        subprocess.run(["losetup", "--detach", dev], capture_output=True, check=False)


def set_hidden_sectors(raw: Path) -> None:
    """extlinux on an offset loop device records the partition start as 0: put it in its
    boot sector's BPB (hidden sectors, offset 0x1C), where the boot code adds it."""
    with open(raw, "r+b") as f:
        f.seek(PART_START * SECTOR + 0x1C)
        f.write(PART_START.to_bytes(4, "little"))


@contextmanager
def _mounted(source: str, target: Path, *options: str) -> Iterator[Path]:
    _run(["mount", *options, source, str(target)])
    try:
        yield target
    finally:
        if subprocess.run(["umount", str(target)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", str(target)], capture_output=True)


def _chroot(root: Path, *argv: str) -> str:
    """ARGV in ROOT, with an environment of its own (none of the host's, e.g. no
    PYTHONDONTWRITEBYTECODE: the guest's Python modules get their bytecode)."""
    return _run(["chroot", str(root), *argv],
                env={"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C", "HOME": "/root",
                     "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})


def make_disk(raw: Path) -> None:
    """A sparse raw disk: one bootable Linux partition from 1 MiB on, syslinux's MBR code."""
    with open(raw, "wb") as f:
        f.truncate(DISK_MIB << 20)
    proc = subprocess.run(["sfdisk", "--quiet", str(raw)], input=f"start={PART_START}, "
                          "type=83, bootable\n", capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"sfdisk failed: {proc.stderr.strip() or 'no output'}")
    code = MBR_BIN.read_bytes()
    if len(code) > 440:
        raise BuildError(f"{MBR_BIN} is larger than 440 bytes")
    with open(raw, "r+b") as f:
        f.write(code)


def initramfs_config(root: Path) -> None:
    """MODULES=list and a hook adding INITRAMFS_MODULES (no package owns either file, so
    dpkg asks nothing when initramfs-tools arrives)."""
    conf = root / "etc/initramfs-tools"
    (conf / "conf.d").mkdir(parents=True, exist_ok=True)
    (conf / "hooks").mkdir(exist_ok=True)
    (conf / "conf.d/lecs-modules").write_text("MODULES=list\n")
    hook = conf / "hooks/lecs-modules"
    hook.write_text("#!/bin/sh\n[ \"$1\" = prereqs ] && exit 0\n"
                    ". /usr/share/initramfs-tools/hook-functions\n"
                    f"manual_add_modules {' '.join(INITRAMFS_MODULES)}\n")
    hook.chmod(0o755)


def install_system(root: Path, log: Callable[[str], None]) -> str:
    """debootstrap and PACKAGES into ROOT (mounted); returns the kernel version installed."""
    log(f"debootstrap --variant=minbase {SUITE}…")
    _run(["debootstrap", "--variant=minbase", SUITE, str(root), MIRROR])
    policy = root / "usr/sbin/policy-rc.d"  # no service starts inside the chroot
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
    with ExitStack() as mounts:
        mounts.enter_context(_mounted("proc", root / "proc", "-t", "proc"))
        mounts.enter_context(_mounted("sysfs", root / "sys", "-t", "sysfs"))
        mounts.enter_context(_mounted("/dev", root / "dev", "--bind"))
        mounts.enter_context(_mounted("devpts", root / "dev/pts", "-t", "devpts"))
        initramfs_config(root)
        (root / "etc/locale.gen").write_text("en_US.UTF-8 UTF-8\n")
        (root / "etc/default/locale").write_text("LANG=en_US.UTF-8\n")
        log(f"apt-get install {' '.join(PACKAGES)}…")
        _chroot(root, "apt-get", "update", "-qq")
        _chroot(root, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES)
        _chroot(root, "locale-gen")
        _chroot(root, "passwd", "--lock", "root")
        _chroot(root, "apt-get", "clean")
    policy.unlink()
    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    if not kernels or not (root / "boot" / f"initrd.img-{kernels[-1].name[8:]}").exists():
        raise BuildError("the chroot has no kernel and initrd in /boot")
    return kernels[-1].name[len("vmlinuz-"):]


def configure(root: Path, kernel: str) -> None:
    """cloud-init, fstab, networking, a blank identity, and extlinux's configuration."""
    (root / "etc/cloud/cloud.cfg.d/90_lecs.cfg").write_text(CLOUD_CFG)
    (root / "etc/fstab").write_text(FSTAB)
    (root / "etc/network/interfaces").write_text(INTERFACES)
    for unit in MASKED:  # what a cloud guest never needs at boot
        (root / "etc/systemd/system" / unit).symlink_to("/dev/null")
    (root / "etc/hostname").write_text("localhost\n")
    (root / "etc/resolv.conf").write_text("")
    (root / "etc/machine-id").write_text("")
    (root / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    for lists in (root / "var/lib/apt/lists").glob("*_*"):
        lists.unlink()
    extlinux = root / "boot/extlinux"
    extlinux.mkdir(exist_ok=True)
    (extlinux / "extlinux.conf").write_text(
        "DEFAULT debian\nPROMPT 0\nTIMEOUT 0\n\nLABEL debian\n"
        f"  LINUX /boot/vmlinuz-{kernel}\n  INITRD /boot/initrd.img-{kernel}\n"
        f"  APPEND root=LABEL={LABEL} ro console=ttyS0\n")


def build_raw(raw: Path, mnt: Path, log: Callable[[str], None]) -> str:
    """The whole system onto RAW; returns its kernel version."""
    make_disk(raw)
    with _loop_partition(raw) as part:
        _run(["mkfs.ext4", "-q", "-L", LABEL, str(part)])
        with _mounted(str(part), mnt):
            kernel = install_system(mnt, log)
            configure(mnt, kernel)
            _run(["extlinux", "--install", str(mnt / "boot/extlinux")])
            _run(["fstrim", str(mnt)])  # freed blocks (apt's downloads) become holes
            _run(["sync", "-f", str(mnt)])
        fsck = subprocess.run(["e2fsck", "-f", "-p", str(part)], capture_output=True, text=True)
        if fsck.returncode not in (0, 1):  # 1: corrected; anything else is a broken build
            raise BuildError(f"e2fsck found errors: {fsck.stdout.strip()[-200:]}")
    set_hidden_sectors(raw)
    return kernel


def build(out: Path, force: bool = False, install: bool = True,
          log: Callable[[str], None] = print) -> Path:
    """Build the image into OUT (idempotent unless FORCE); returns the image's path."""
    out = Path(out).expanduser()
    if not force and manifest_ok(out):
        log(f"cloud image already built: {out / IMAGE}")
        return out / IMAGE
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(out):
        if not force and manifest_ok(out):  # another builder finished while we waited
            log(f"cloud image already built: {out / IMAGE}")
            return out / IMAGE
        host_ready(install, log)
        started = time.monotonic()
        (out / MANIFEST).unlink(missing_ok=True)
        for stale in out.glob("lecs-cloud-image-*"):  # a builder killed midway
            _remove_work(stale)
        work = Path(tempfile.mkdtemp(prefix="lecs-cloud-image-", dir=out))
        try:
            (work / "mnt").mkdir()
            kernel = build_raw(work / "disk.raw", work / "mnt", log)
            log("qemu-img convert -O qcow2 -c…")
            part = work / f"{IMAGE}.part"
            _run(["qemu-img", "convert", "-O", "qcow2", "-c", str(work / "disk.raw"), str(part)])
            part.chmod(0o644)
            digest = hashlib.sha256()
            with open(part, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            os.replace(part, out / IMAGE)
        finally:
            _remove_work(work)
        manifest = {"image": IMAGE, "login_user": LOGIN_USER, "root_label": LABEL,
                    "suite": SUITE, "kernel_version": kernel, "packages": list(PACKAGES),
                    "size": (out / IMAGE).stat().st_size, "sha256": digest.hexdigest(),
                    "build_version": BUILD_VERSION,
                    "build_seconds": round(time.monotonic() - started, 1)}
        tmp_manifest = out / f".{MANIFEST}.tmp"
        tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(tmp_manifest, out / MANIFEST)
        _give_back(out)
    log(f"cloud image built: {out / IMAGE} (Linux {kernel}, "
        f"{manifest['size'] >> 20} MiB, {manifest['build_seconds']} s)")
    return out / IMAGE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default: $LECS_CLOUD_IMAGE_DIR or "
                             "~/.cache/lecs/cloud-image)")
    parser.add_argument("--force", action="store_true", help="rebuild even if already built")
    parser.add_argument("--no-install", action="store_true",
                        help="do not apt-get install missing host packages")
    args = parser.parse_args(argv)
    try:
        build(args.out or default_out(), force=args.force, install=not args.no_install)
    except (BuildError, OSError, ValueError) as exc:
        print(f"build_cloud_image: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build_cloud_image: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
