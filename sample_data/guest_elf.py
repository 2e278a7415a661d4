"""ELF reading for the tiny guest's builder: the kernel inside a bzImage, the libraries a
dynamic executable needs (PT_INTERP, DT_NEEDED, transitively), a kernel module's depends=.

Stdlib only, like sample_data/build_guest.py, which imports it from its own directory.
"""

from __future__ import annotations

import lzma
import os
import struct
from collections.abc import Callable
from pathlib import Path

LIB_DIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "lib", "usr/lib")
XZ_MAGIC = b"\xfd7zXZ\x00"


class BuildError(Exception):
    """A build step failed; the message is one line for the user."""


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


def _vaddr_offset(data: bytes, vaddr: int) -> int:
    """The file offset of a virtual address (through the PT_LOAD segments)."""
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        ptype, _flags, offset, addr, _paddr, filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize)
        if ptype == 1 and addr <= vaddr < addr + filesz:
            return vaddr - addr + offset
    raise BuildError(f"address {vaddr:#x} is in no loaded segment")


def elf_needs(data: bytes) -> tuple[str, list[str]]:
    """A dynamic ELF64 file's interpreter (PT_INTERP, "" for a library) and DT_NEEDED names."""
    _elf64(data)
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    interp, dynamic = "", (0, 0)
    for i in range(phnum):
        ptype, _flags, offset, _addr, _paddr, filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize)
        if ptype == 3:
            interp = data[offset:offset + filesz].rstrip(b"\0").decode()
        elif ptype == 2:
            dynamic = (offset, filesz)
    entries = [struct.unpack_from("<qQ", data, dynamic[0] + n)
               for n in range(0, dynamic[1], 16)]
    strtab = next((_vaddr_offset(data, v) for tag, v in entries if tag == 5), -1)
    needed = []
    for tag, value in entries:
        if tag == 1 and strtab >= 0:
            start = strtab + value
            needed.append(data[start:data.index(b"\0", start)].decode())
    return interp, needed


def in_root(root: Path, rel: str) -> Path | None:
    """A path inside an extracted package, its symlinks followed inside the same root."""
    path = root / rel.lstrip("/")
    for _hop in range(10):
        if not path.is_symlink():
            return path if path.is_file() else None
        target = os.readlink(path)
        path = root / target.lstrip("/") if target.startswith("/") else path.parent / target
    return None


def shared_objects(binaries: list[bytes], roots: list[Path], more: Callable[[], list[Path]]
                   ) -> tuple[str, dict[str, bytes]]:
    """The interpreter and every library the binaries need, transitively, by soname, found
    in the extracted packages ROOTS; MORE() extracts further packages when one is missing."""
    interp, found = "", {}
    todo: list[str] = []
    for data in binaries:
        want, needed = elf_needs(data)
        interp = interp or want
        todo += needed
    if not interp:
        raise BuildError("no dynamic executable among the guest's binaries")
    while todo:
        name = todo.pop()
        if name in found or name == Path(interp).name:
            continue
        hits = [p for root in roots for d in (*LIB_DIRS, str(Path(interp).parent))
                if (p := in_root(root, f"{d}/{name}")) is not None]
        while not hits:
            extra = more()
            if not extra:
                raise BuildError(f"no package provides {name}, which the guest's binaries need")
            roots = [*roots, *extra]
            hits = [p for root in extra for d in LIB_DIRS
                    if (p := in_root(root, f"{d}/{name}")) is not None]
        found[name] = hits[0].read_bytes()
        todo += elf_needs(found[name])[1]
    loader = next((p for root in roots if (p := in_root(root, interp)) is not None), None)
    if loader is None:
        raise BuildError(f"no package provides the loader {interp}")
    found[interp] = loader.read_bytes()
    return interp, found


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
