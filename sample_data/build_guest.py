#!/usr/bin/env python3
"""Build the lecs tiny guest (kernel + busybox initramfs) from Debian packages, without root.

    python sample_data/build_guest.py [--out DIR] [--force]

Writes DIR/vmlinux (uncompressed ELF, for fast PVH boot under TCG), DIR/initrd.gz and, last,
DIR/manifest.json. Stdlib only; needs apt-get, apt-cache and dpkg on the host.

The initramfs holds busybox-static (PID 1 and every applet), the kernel modules of MODULES,
an SSH server (dropbear, from dropbear-bin; its host key made at each boot) and, as /bin/sh
only, Debian's dynamic busybox, with the shared libraries they link, found from the ELF files'
DT_NEEDED entries in the packages they depend on. Why two: busybox-static's shell runs its own
applets before anything on PATH, so the guest's wget wrapper (guest/wget: Debian's wget
segfaults on -T) could never stand in; the dynamic one's shell looks on PATH. Yet every
command a dynamic busybox runs pays the loader (~40 ms under TCG), which doubled the boot's CPU
time: so the applets stay static and only the shells that users' scripts and logins get
(/bin/sh: user-data, ssh, the console) are dynamic.
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
import stat
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from guest_elf import (  # noqa: E402  (a sibling module: this file runs as a script)
    BuildError,
    extract_vmlinux,
    in_root,
    module_depends,
    shared_objects,
)

CMDLINE = "console=ttyS0 panic=-1 quiet"
MARKER = "LECS-GUEST-READY"
KERNEL, INITRD, MANIFEST = "vmlinux", "initrd.gz", "manifest.json"
MODULES = (
    "virtio_rng",  # entropy from the host: else getrandom() (dropbearkey) waits ~1.5 s at boot
    "virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
    "virtio_mmio", "failover", "net_failover", "virtio_net", "virtio_blk", "virtio_balloon",
    "virtio_console", "button", "evdev", "isofs",
    "virtio_scsi", "sr_mod",  # the NoCloud seed: a CD-ROM on virtio-scsi (sr0), not a vdX
)
BINARIES = {  # package: {file in it: path in the initrd}, executables the guest runs
    "busybox-static": {"bin/busybox": "bin/busybox"},
    "busybox": {"bin/busybox": "bin/sh"},  # see the module's docstring
    "dropbear-bin": {"usr/sbin/dropbear": "usr/sbin/dropbear",
                     "usr/bin/dropbearkey": "usr/bin/dropbearkey"},
}
GUEST_LIBDIR = "lib/x86_64-linux-gnu"
BUILD_VERSION = "4"  # bump when make_initrd's layout changes (part of the assets hash)
ETC = {  # root's account for dropbear (no password: keys only) and the resolver's order
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
    "etc/group": "root:x:0:\n",
    "etc/shadow": "root:*:19000:0:99999:7:::\n",
    "etc/shells": "/bin/sh\n",
    "etc/nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n",
}
ASSETS = Path(__file__).resolve().parent / "guest"
KERNEL_PKG = re.compile(r"\blinux-image-(\d+\.\d+\.\d+-(\d+))-amd64\b")


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


def package_depends(package: str) -> list[str]:
    """The packages PACKAGE depends on (apt-cache depends; virtual ones skipped)."""
    out = _run(["apt-cache", "depends", package])
    return [ln.split(":", 1)[1].strip() for ln in out.splitlines()
            if ln.strip().startswith("Depends:") and "<" not in ln]


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


@dataclass(frozen=True, slots=True)
class Userland:
    """busybox and dropbear: binaries (initrd path → ELF) and the libraries they link
    (soname, or for the loader its absolute path → ELF)."""

    binaries: dict[str, bytes]
    libraries: dict[str, bytes]


def make_initrd(userland: Userland, modules: list[tuple[str, bytes]]) -> bytes:
    archive = Cpio()
    for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "usr/share", "usr/share/udhcpc",
              "dev", "proc", "sys", "tmp", "etc", "etc/acpi", "etc/acpi/PWRF", "etc/dropbear",
              "lib", "lib/modules", "lib/x86_64-linux-gnu", "lib64", "root", "var", "www"):
        archive.dir(d)
    archive.chardev("dev/console", 5, 1)
    archive.chardev("dev/null", 1, 3)
    for path, data in userland.binaries.items():
        archive.file(path, data, 0o755)
    for name, data in userland.libraries.items():
        target = name.lstrip("/") if name.startswith("/") else f"{GUEST_LIBDIR}/{name}"
        archive.file(target, data, 0o755)
    init = (ASSETS / "init.sh").read_text().replace("@MODULES@", " ".join(n for n, _ in modules))
    archive.file("init", init.encode(), 0o755)
    archive.file("usr/share/udhcpc/default.script", (ASSETS / "udhcpc.script").read_bytes(), 0o755)
    archive.file("etc/acpi/PWRF/00000080", (ASSETS / "power-button.sh").read_bytes(), 0o755)
    archive.file("etc/profile", (ASSETS / "profile").read_bytes())
    # busybox's wget, wrapped (--install -s leaves an existing file be): see guest/wget
    archive.file("usr/bin/wget", (ASSETS / "wget").read_bytes(), 0o755)
    for path, text in ETC.items():
        archive.file(path, text.encode(), 0o600 if path == "etc/shadow" else 0o644)
    for name, data in modules:
        archive.file(f"lib/modules/{name}.ko", data)
    return gzip.compress(archive.finish(), compresslevel=6, mtime=0)


def assets_hash() -> str:
    """Hash of what goes into the initrd besides packages: a change here forces a rebuild."""
    digest = hashlib.sha256(" ".join((BUILD_VERSION, *BINARIES, *MODULES)).encode())
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


def _userland(work: Path, log: Callable[[str], None]) -> Userland:
    """BINARIES and the libraries they link, from Debian's packages (no host file used)."""
    log(f"downloading {', '.join(BINARIES)} and their libraries…")
    binaries, roots = {}, []
    for package, files in BINARIES.items():
        root = fetch(package, work)
        roots.append(root)
        for rel, target in files.items():
            path = in_root(root, rel)
            if path is None:
                raise BuildError(f"{package} has no {rel}")
            binaries[target] = path.read_bytes()
    fetched = set(BINARIES)
    wave = list(BINARIES)

    def more() -> list[Path]:  # the next wave of dependencies, breadth first
        nonlocal wave
        wave = list(dict.fromkeys(d for p in wave for d in package_depends(p)
                                  if d not in fetched))
        fetched.update(wave)
        return [fetch(p, work) for p in wave]

    _interp, libraries = shared_objects(list(binaries.values()), roots, more)
    return Userland(binaries, libraries)


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
            userland = _userland(work, log)
            log("writing initrd…")
            initrd = make_initrd(userland, modules)
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
