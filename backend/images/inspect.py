"""Untrusted images: what an uploaded or downloaded file may point to, refused before use.

A disk image is not just bytes: qcow2 and qed name backing files (an absolute path, a
`json:{…}` pseudo-filename, `nbd:`/`http:` URLs), qcow2 an external data file, a vmdk
descriptor its extents (any host file), a vmdk its parent, and a raw disk can hold any of
those headers. Whatever QEMU opens for an image, an instance's guest reads. So a file given
to lecs is admitted (`admit`) only as ONE standalone file, in three gates, the first two
before qemu-img reads anything but the file's own header:

1. The format is given (`--format`) or sniffed here from the magic bytes, among the formats
   lecs converts (`FORMATS`; anything else is raw data, which points nowhere), and every
   qemu-img call names it (`-f FMT`): qemu-img never probes.
2. The header is read here, in Python: a qcow2/qed backing file, a qcow2 data file (the
   incompatible feature bit or its header extension), an encrypted qcow2, a vmdk text
   descriptor with any file extent (also one embedded in a sparse vmdk of capacity 0), a
   vmdk parent (`parentFileNameHint`), a differencing VHD or VDI: refused. (`qemu-img info`
   of a vmdk descriptor already opens its extents, and `check` opens a data file.)
3. `qemu-img info -f FMT` and `qemu-img check -f FMT` (formats that have one) run under
   resource limits (`img.INSPECT`); info must name no backing file, data file nor other
   extent (`volume.references`), and check must find no error (leaked clusters are waste,
   not harm: allowed).

Refusals are one line: `image 'x' refused: its vmdk extent names another file (/etc/shadow)`.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

from backend.drivers.qemu import img, volume
from backend.drivers.qemu.volume import Volume
from backend.inventory.errors import LecsError, QemuError, ValidationError

FORMATS = ("qcow2", "raw", "vmdk", "vdi", "vpc", "vhdx", "qed")
CHECKED = frozenset({"qcow2", "qed", "vdi", "vhdx", "vmdk"})  # `qemu-img check` reads these
KEPT = frozenset({"qcow2", "raw"})  # stored as they are; the others are converted to qcow2
DESCRIPTOR_MAX = 1 << 20  # qemu reads at most this much of a vmdk descriptor
NAME_MAX = 200  # of a file name quoted in an error
# an extent line, as loosely as qemu's sscanf reads one: ACCESS SECTORS TYPE ["FILE" OFFSET]
EXTENT_RE = re.compile(rb'^[ \t]*(RW|RDONLY|NOACCESS)\s+(\S+)\s+(\S+)(?:\s+"([^"\r\n]*)")?',
                       re.MULTILINE)
GD_AT_END = (1 << 64) - 1  # a stream-optimized vmdk: qemu reads the header in its footer
PARENT_RE = re.compile(rb'parentFileNameHint\s*=\s*"([^"\r\n]*)"')


class Refused(ValidationError):
    """An image that is not one standalone file lecs can keep (its reason is the message)."""


def refused(name: str, why: str) -> Refused:
    """The one-line refusal; names from a header are the uploader's: no control bytes."""
    why = "".join(ch if ch.isprintable() else "?" for ch in why)
    return Refused(f"image {name!r} refused: {why}")


def check_format(fmt: str | None) -> str | None:
    """A format given by the user: one lecs reads, or None (sniff it)."""
    if fmt is None or fmt == "":
        return None
    if fmt not in FORMATS:
        raise ValidationError(f"unsupported image format {fmt!r}: use one of"
                              f" {', '.join(FORMATS)}")
    return fmt


def _read(path: Path, offset: int, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(max(0, size))


def _shown(raw: bytes) -> str:
    text = raw.decode(errors="replace").strip()
    return text if len(text) <= NAME_MAX else text[:NAME_MAX] + "…"


def sniff(path: Path) -> str:
    """The format of `path` by its magic bytes, among FORMATS; "raw" when none matches
    (raw data points nowhere). A LUKS volume is refused by `pointers`."""
    head = _read(path, 0, 1024)
    if head.startswith(b"QFI\xfb"):
        return "qcow2"
    if head.startswith(b"QED\x00"):
        return "qed"
    if head.startswith((b"KDMV", b"COWD")) or b"# Disk DescriptorFile" in head:
        return "vmdk"
    if head.startswith(b"conectix"):
        return "vpc"
    if head.startswith(b"vhdxfile"):
        return "vhdx"
    if head[0x40:0x44] == struct.pack("<I", 0xBEDA107F):
        return "vdi"
    if head.startswith(b"LUKS\xba\xbe"):
        return "luks"
    return "raw"


def _qcow2(path: Path) -> str | None:
    head = _read(path, 0, 112)
    if len(head) < 72 or not head.startswith(b"QFI\xfb"):
        return None  # not a qcow2 header: qemu-img -f qcow2 refuses it
    version, backing_offset, backing_size = struct.unpack_from(">IQI", head, 4)
    cluster_bits = struct.unpack_from(">I", head, 20)[0]
    (crypt,) = struct.unpack_from(">I", head, 32)
    if backing_offset or backing_size:
        name = _read(path, backing_offset, min(backing_size, 1023)) if backing_offset else b""
        return f"it names a backing file ({_shown(name) or '?'})"
    if crypt:
        return "it is encrypted (import the decrypted image)"
    if version < 3 or len(head) < 104:
        return None
    incompatible = struct.unpack_from(">Q", head, 72)[0]
    header_length = struct.unpack_from(">I", head, 100)[0]
    if incompatible & 0b10:
        return "it is marked corrupt"
    data_file = _qcow2_extension(path, header_length, cluster_bits, 0x44415441)
    if incompatible & 0b100 or data_file is not None:
        return f"it names an external data file ({_shown(data_file or b'') or '?'})"
    return None


def _qcow2_extension(path: Path, start: int, cluster_bits: int, wanted: int) -> bytes | None:
    """The data of one qcow2 header extension (they lie in the first cluster), or None."""
    end = 1 << min(max(cluster_bits, 9), 21)
    area = _read(path, 0, end)
    offset = start
    while offset + 8 <= len(area):
        kind, length = struct.unpack_from(">II", area, offset)
        if kind == 0:
            return None
        if kind == wanted:
            return area[offset + 8:offset + 8 + length]
        offset += 8 + (length + 7) // 8 * 8
    return None


def _qed(path: Path) -> str | None:
    head = _read(path, 0, 64)
    if len(head) < 64 or not head.startswith(b"QED\x00"):
        return None
    features = struct.unpack_from("<Q", head, 16)[0]
    offset, size = struct.unpack_from("<II", head, 56)
    if features & 1 or offset or size:
        name = _read(path, offset, min(size, 1023)) if offset else b""
        return f"it names a backing file ({_shown(name) or '?'})"
    return None


def _descriptor(text: bytes) -> str | None:
    """A vmdk descriptor's pointers: any extent but ZERO names a file; a parent too."""
    for _access, _sectors, kind, name in EXTENT_RE.findall(text):
        if kind.upper() != b"ZERO" or name:
            return f"its vmdk extent names another file ({_shown(name) or '?'})"
    parent = PARENT_RE.search(text)
    if parent:
        return f"it names a backing file ({_shown(parent.group(1))})"
    return None


def _vmdk4(path: Path, head: bytes) -> str | None:
    """A sparse vmdk header (KDMV): of capacity 0, qemu opens its embedded descriptor's
    extents; its descriptor (and the area after the header) may name a parent."""
    capacity, _granularity, desc_offset, desc_size = struct.unpack_from("<QQQQ", head, 12)
    embedded = b""
    if desc_offset:
        embedded = _read(path, desc_offset * 512, min(desc_size * 512, DESCRIPTOR_MAX))
    if capacity == 0 and desc_offset:
        found = _descriptor(embedded)
        if found:
            return found
    parent = PARENT_RE.search(embedded + b"\n" + _read(path, 512, 20 * 512))
    return f"it names a backing file ({_shown(parent.group(1))})" if parent else None


def _vmdk(path: Path) -> str | None:
    head = _read(path, 0, 512)
    if head.startswith(b"KDMV") and len(head) >= 64:
        found = _vmdk4(path, head)
        if found or struct.unpack_from("<Q", head, 56)[0] != GD_AT_END:
            return found
        size = path.stat().st_size
        footer = _read(path, size - 1024, 512) if size >= 1536 else b""
        return _vmdk4(path, footer) if footer.startswith(b"KDMV") else None
    if head.startswith(b"COWD"):
        parent = PARENT_RE.search(_read(path, 512, 20 * 512))
        return f"it names a backing file ({_shown(parent.group(1))})" if parent else None
    return _descriptor(_read(path, 0, DESCRIPTOR_MAX))  # a text descriptor


def _vpc(path: Path) -> str | None:
    head = _read(path, 0, 512)
    if head.startswith(b"conectix") and struct.unpack_from(">I", head, 60)[0] == 4:
        return "it is a differencing VHD (it names a parent file)"
    return None


def _vdi(path: Path) -> str | None:
    head = _read(path, 0, 0x50)
    if len(head) >= 0x50 and struct.unpack_from("<I", head, 0x4C)[0] == 4:
        return "it is a differencing VDI (it names a parent file)"
    return None


HEADERS = {"qcow2": _qcow2, "qed": _qed, "vmdk": _vmdk, "vpc": _vpc, "vdi": _vdi}


def pointers(path: Path, fmt: str) -> str | None:
    """Gate 2: what the header of `path`, read as `fmt`, points to (None: nothing)."""
    if fmt == "luks":
        return "it is a LUKS-encrypted volume (import the decrypted image)"
    if fmt not in FORMATS:
        return f"unsupported image format {fmt!r}"
    reader = HEADERS.get(fmt)
    return reader(path) if reader else None


async def admit(path: Path, fmt: str | None, name: str) -> tuple[str, dict[str, Any]]:
    """Admit the file `path` (a copy lecs holds, so it cannot change under the checks) as
    image `name`: returns (its format, its `qemu-img info`), or raises Refused."""
    given = fmt is not None
    fmt = fmt or sniff(path)
    # a sniffed binary header may be a raw disk's bytes (a guest can write any header)
    forgeable = not given and fmt != "raw" and not (
        fmt == "vmdk" and _read(path, 0, 4) not in (b"KDMV", b"COWD"))
    hint = "; if it is a raw disk, import it with --format raw" if forgeable else ""
    why = pointers(path, fmt)
    if why:
        raise refused(name, why + hint)
    try:
        meta = await img.info(path, fmt=fmt, limits=img.INSPECT)
    except QemuError as exc:
        raise refused(name, f"qemu-img cannot read it as {fmt}: {exc}") from None
    found = volume.references(meta)
    if meta.get("format") != fmt:
        found.insert(0, f"qemu-img reads it as {meta.get('format')!r}, not {fmt}")
    if meta.get("encrypted"):
        found.append("it is encrypted (import the decrypted image)")
    if ((meta.get("format-specific") or {}).get("data") or {}).get("corrupt"):
        found.append("it is marked corrupt")
    if found:
        raise refused(name, found[0] + hint)
    if fmt in CHECKED:
        await _check(path, fmt, name)
    return fmt, meta


async def _check(path: Path, fmt: str, name: str) -> None:
    """Gate 3's `qemu-img check`: 0 clean, 3 leaked clusters only; anything else refuses."""
    args = ["check", "-f", fmt, "--output=json", str(path)]
    code, out, err = await img.run_status(args, limits=img.INSPECT)
    if code in (0, 3):
        return
    if code == 2:
        try:
            found = int(json.loads(out).get("corruptions", 0))
        except (ValueError, AttributeError):
            found = 0
        what = f"{found} corruption(s)" if found else "corruption"
        raise refused(name, f"qemu-img check found {what} in it")
    raise refused(name, f"{img.failure(args, code, err, img.INSPECT)}")


async def seal(final: Volume, name: str) -> dict[str, Any]:
    """The stored result, proven one standalone file (`volume.sealed`): info, and check
    where its format has one. A failure here is lecs's own, said as a refusal all the same."""
    try:
        return await volume.sealed(final, checked=final.format in CHECKED)
    except LecsError as exc:
        raise refused(name, f"its stored copy does not pass qemu-img: {exc}") from None
