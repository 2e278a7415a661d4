#!/usr/bin/env python3
"""Build the lecs tiny guest (kernel + busybox initramfs) from Debian packages, without root.

    python sample_data/build_guest.py [--out DIR] [--force]

Writes DIR/vmlinux (uncompressed ELF, for fast PVH boot under TCG), DIR/initrd.gz and, last,
DIR/manifest.json. Stdlib only; needs apt-get, apt-cache and dpkg on the host.
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

CMDLINE = "console=ttyS0 panic=-1 quiet"
MARKER = "LECS-GUEST-READY"
KERNEL, INITRD, MANIFEST = "vmlinux", "initrd.gz", "manifest.json"
MODULES = (
    "virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
    "virtio_mmio", "failover", "net_failover", "virtio_net", "virtio_blk", "virtio_balloon",
    "virtio_console", "button", "evdev", "isofs",
)
ASSETS = Path(__file__).resolve().parent / "guest"
XZ_MAGIC = b"\xfd7zXZ\x00"
KERNEL_PKG = re.compile(r"\blinux-image-(\d+\.\d+\.\d+-(\d+))-amd64\b")


class BuildError(Exception):
    """A build step failed; the message is one line for the user."""


def default_out() -> Path:
    env = os.environ.get("LECS_GUEST_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lecs" / "guest"


def _run(argv: list[str], cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False,
                              env={**os.environ, "LC_ALL": "C"})
    except FileNotFoundError as exc:
        raise BuildError(f"{argv[0]} not found (a Debian host with apt is needed)") from exc
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()] or ["no output"]
        raise BuildError(f"{' '.join(argv[:2])} failed: {lines[-1].strip()}")
    return proc.stdout


def kernel_package() -> str:
    """The concrete linux-image-6.1.0-NN-amd64 package behind linux-image-amd64."""
    try:
        found = KERNEL_PKG.search(_run(["apt-cache", "depends", "linux-image-amd64"]))
        if found:
            return found.group(0)
    except BuildError:
        pass
    out = _run(["apt-cache", "search", "--names-only", r"^linux-image-6\.1\.0-[0-9]+-amd64$"])
    names = [m for ln in out.splitlines() if (m := KERNEL_PKG.fullmatch(ln.split(" ", 1)[0]))]
    if not names:
        raise BuildError("no linux-image-6.1.0-*-amd64 package known to apt (run apt-get update)")
    return max(names, key=lambda m: int(m.group(2))).group(0)


def fetch(package: str, work: Path) -> Path:
    """apt-get download PACKAGE into WORK and dpkg -x it; returns the extracted root."""
    _run(["apt-get", "download", package], cwd=work)
    debs = sorted(work.glob(f"{package}_*.deb"))
    if not debs:
        raise BuildError(f"apt-get download {package} produced no .deb")
    root = work / package
    _run(["dpkg", "-x", str(debs[-1]), str(root)])
    return root


def extract_vmlinux(bzimage: bytes) -> bytes:
    """The uncompressed ELF kernel inside a bzImage with an xz payload."""
    start = bzimage.find(XZ_MAGIC)
    while start >= 0:
        try:
            elf = lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(bzimage[start:])
        except lzma.LZMAError:
            elf = b""
        if elf.startswith(b"\x7fELF"):
            return elf
        start = bzimage.find(XZ_MAGIC, start + 1)
    raise BuildError("no xz-compressed ELF kernel found in vmlinuz")


def _elf64(data: bytes) -> None:
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise BuildError("not a little-endian ELF64 file")


def is_static_elf(data: bytes) -> bool:
    """True for an ELF64 executable with no PT_INTERP (no dynamic loader needed)."""
    try:
        _elf64(data)
    except BuildError:
        return False
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != 3 for i in range(phnum))


def module_depends(ko: bytes) -> list[str]:
    """The depends= list from a kernel module's .modinfo section."""
    _elf64(ko)
    (shoff,) = struct.unpack_from("<Q", ko, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ko, 0x3A)
    sections = [struct.unpack_from("<IIQQQQ", ko, shoff + i * shentsize) for i in range(shnum)]
    names = sections[shstrndx][4]
    for name, _type, _flags, _addr, offset, size in sections:
        if ko[names + name:ko.index(b"\0", names + name)] == b".modinfo":
            for field in ko[offset:offset + size].split(b"\0"):
                if field.startswith(b"depends="):
                    return [d for d in field[8:].decode().split(",") if d]
    return []


def _modname(path: str) -> str:
    return Path(path).name.split(".ko")[0].replace("-", "_")


def read_module(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".ko.xz"):
        return lzma.decompress(data)
    if path.name.endswith(".ko.gz"):
        return gzip.decompress(data)
    if path.name.endswith(".ko"):
        return data
    raise BuildError(f"cannot decompress module {path.name} with the stdlib")


def collect_modules(moddir: Path, log: Callable[[str], None]) -> list[tuple[str, bytes]]:
    """MODULES plus their dependencies, dependencies first; builtin or missing ones skipped."""
    index = {_modname(p.name): p for p in (moddir / "kernel").rglob("*.ko*")}
    builtin_file = moddir / "modules.builtin"
    builtin = ({_modname(ln) for ln in builtin_file.read_text().split()}
               if builtin_file.exists() else set())
    loaded: dict[str, bytes] = {}

    def visit(name: str) -> None:
        if name in loaded or name in builtin:
            return
        if name not in index:
            log(f"  module {name} not found, skipped")
            return
        data = read_module(index[name])
        for dep in module_depends(data):
            visit(dep)
        loaded[name] = data

    for name in MODULES:
        visit(name)
    return list(loaded.items())


class Cpio:
    """A newc ("070701") cpio archive written in memory."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.ino = 0

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0),
               nlink: int = 1) -> None:
        self.ino += 1
        raw = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, *rdev, len(raw), 0)
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        for part in (header + raw, data):
            self.chunks.append(part + b"\0" * (-len(part) % 4))

    def dir(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755, nlink=2)

    def file(self, name: str, data: bytes, perm: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | perm, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name: str, major: int, minor: int) -> None:
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return b"".join(self.chunks)


def make_initrd(busybox: bytes, modules: list[tuple[str, bytes]]) -> bytes:
    archive = Cpio()
    for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "usr/share", "usr/share/udhcpc",
              "dev", "proc", "sys", "tmp", "etc", "etc/acpi", "etc/acpi/PWRF", "lib",
              "lib/modules", "root", "var", "www"):
        archive.dir(d)
    archive.chardev("dev/console", 5, 1)
    archive.chardev("dev/null", 1, 3)
    archive.file("bin/busybox", busybox, 0o755)
    archive.symlink("bin/sh", "busybox")
    init = (ASSETS / "init.sh").read_text().replace("@MODULES@", " ".join(n for n, _ in modules))
    archive.file("init", init.encode(), 0o755)
    archive.file("usr/share/udhcpc/default.script", (ASSETS / "udhcpc.script").read_bytes(), 0o755)
    archive.file("etc/acpi/PWRF/00000080", (ASSETS / "power-button.sh").read_bytes(), 0o755)
    archive.file("etc/profile", (ASSETS / "profile").read_bytes())
    for name, data in modules:
        archive.file(f"lib/modules/{name}.ko", data)
    return gzip.compress(archive.finish(), compresslevel=6, mtime=0)


def assets_hash() -> str:
    """Hash of what goes into the initrd besides packages: a change here forces a rebuild."""
    digest = hashlib.sha256(" ".join(MODULES).encode())
    for path in sorted(ASSETS.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def manifest_ok(out: Path) -> bool:
    try:
        manifest = json.loads((out / MANIFEST).read_text())
        names = [manifest["kernel"], manifest["initrd"]]
        if manifest.get("assets") != assets_hash():
            return False
        return all((out / n).is_file() and n in manifest["sha256"] for n in names)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    os.replace(tmp, path)


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    with open(out / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _busybox(work: Path, log: Callable[[str], None]) -> bytes:
    log("downloading busybox-static…")
    try:
        data = (fetch("busybox-static", work) / "bin" / "busybox").read_bytes()
    except (BuildError, OSError) as exc:
        log(f"  busybox-static unavailable ({exc}); trying /bin/busybox")
        data = b""
        host = shutil.which("busybox") or "/bin/busybox"
        if os.path.isfile(host):
            data = Path(host).read_bytes()
    if not is_static_elf(data):
        raise BuildError("no static busybox (install busybox-static)")
    return data


def build(out: Path, force: bool = False, log: Callable[[str], None] = print) -> Path:
    """Build the tiny guest into OUT (idempotent unless FORCE); returns OUT."""
    out = Path(out).expanduser()
    if not force and manifest_ok(out):
        log(f"tiny guest already built at {out}")
        return out
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(out):
        if not force and manifest_ok(out):  # another build finished while we waited
            log(f"tiny guest already built at {out}")
            return out
        (out / MANIFEST).unlink(missing_ok=True)
        with tempfile.TemporaryDirectory(prefix="lecs-guest-") as tmp:
            work = Path(tmp)
            package = kernel_package()
            log(f"downloading {package}…")
            root = fetch(package, work)
            log("extracting vmlinux…")
            vmlinuz = sorted((root / "boot").glob("vmlinuz-*"))
            moddirs = sorted((root / "lib" / "modules").glob("*"))
            if not vmlinuz or not moddirs:
                raise BuildError(f"{package} has no vmlinuz or modules")
            vmlinux = extract_vmlinux(vmlinuz[-1].read_bytes())
            log("collecting modules…")
            modules = collect_modules(moddirs[-1], log)
            busybox = _busybox(work, log)
            log("writing initrd…")
            initrd = make_initrd(busybox, modules)
        _write(out / KERNEL, vmlinux)
        _write(out / INITRD, initrd)
        manifest = {
            "kernel": KERNEL, "initrd": INITRD, "cmdline": CMDLINE,
            "kernel_version": moddirs[-1].name,
            "sha256": {KERNEL: hashlib.sha256(vmlinux).hexdigest(),
                       INITRD: hashlib.sha256(initrd).hexdigest()},
            "marker": MARKER,
            "assets": assets_hash(),
        }
        _write(out / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    log(f"tiny guest built at {out} (Linux {moddirs[-1].name}, {len(modules)} modules)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default: $LECS_GUEST_DIR or ~/.cache/lecs/guest)")
    parser.add_argument("--force", action="store_true", help="rebuild even if already built")
    args = parser.parse_args(argv)
    try:
        build(args.out or default_out(), force=args.force)
    except (BuildError, OSError, ValueError, struct.error) as exc:
        print(f"build_guest: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build_guest: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
