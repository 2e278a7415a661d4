"""NoCloud seed ISO (volume label `cidata`): meta-data, user-data, written with pycdlib.

cloud-init in a real cloud image and the tiny guest's init both read it: hostname
(`local-hostname`), SSH keys (`public-keys`) and the user-data (a `#!` script or
`#cloud-config`).
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from backend.inventory.errors import ValidationError

if TYPE_CHECKING:
    import pycdlib

MAX_USER_DATA = 32 * 1024  # bytes, as ECS allows
HOSTNAME_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
LABEL = "cidata"
SLIRP_ADDRESS = "10.0.2.15/24"  # QEMU user-mode networking's first (and only) guest address


def hostname(value: str) -> str:
    if not HOSTNAME_RE.match(value or ""):
        raise ValidationError(f"invalid hostname {value!r}: 1-63 letters, digits or '-',"
                              " not starting or ending with '-'")
    return value.lower()


def hostname_for(instance_name: str) -> str:
    """A valid hostname derived from an instance name (which may hold '_' and '.')."""
    text = re.sub(r"[^A-Za-z0-9-]+", "-", instance_name).strip("-")[:63].strip("-")
    return (text or "instance").lower()


def user_data(value: bytes | str) -> str:
    data = value.encode() if isinstance(value, str) else value
    if len(data) > MAX_USER_DATA:
        raise ValidationError(f"user-data is {len(data)} bytes; at most {MAX_USER_DATA}")
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise ValidationError("user-data must be UTF-8 text (a #! script or #cloud-config)"
                              ) from None
    if "\0" in text:
        raise ValidationError("user-data must not contain NUL bytes")
    return text


def _quoted(value: str) -> str:
    """A YAML double-quoted scalar with everything but printable ASCII escaped: no value,
    whatever it holds (`: `, `#`, quotes, line breaks), can add a key or change the shape."""
    out = []
    for ch in value:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def meta_data(instance_id: str, host: str, public_keys: list[str]) -> str:
    """NoCloud meta-data, one key per line (the tiny guest reads it with sed)."""
    lines = [f"instance-id: {_quoted(instance_id)}", f"local-hostname: {_quoted(host)}"]
    if public_keys:
        lines.append("public-keys:")
        lines += [f"  - {_quoted(key)}" for key in public_keys]
    return "\n".join(lines) + "\n"


def network_config(forwards_mac: str, egress_mac: str) -> str:
    """Network config (v2) for a cloud image in user mode: its first NIC carries only the
    forwards (slirp, restricted: a fixed address and no route), the second is the egress
    (passt: DHCP, the default route). Matched by MAC, named eth0 and eth1."""
    return json.dumps({"version": 2, "ethernets": {
        "forwards": {"match": {"macaddress": forwards_mac}, "set-name": "eth0",
                     "addresses": [SLIRP_ADDRESS], "dhcp4": False},
        "egress": {"match": {"macaddress": egress_mac}, "set-name": "eth1", "dhcp4": True,
                   "optional": True},
    }}, indent=1) + "\n"


def _add(iso: pycdlib.PyCdlib, name: str, iso_name: str, data: bytes) -> None:
    iso.add_fp(io.BytesIO(data), len(data), f"/{iso_name};1", rr_name=name,
               joliet_path=f"/{name}")


def write_seed(path: Path, meta: str, user: str = "", network: str = "") -> Path:
    """Write the seed ISO to `path` (0600), atomically."""
    import pycdlib  # only when a seed is written: keeps it off the start-up path

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, vol_ident=LABEL, joliet=3, rock_ridge="1.09")
    try:
        _add(iso, "meta-data", "METADATA", meta.encode())
        _add(iso, "user-data", "USERDATA", user.encode())
        if network:
            _add(iso, "network-config", "NETWORKC", network.encode())
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            iso.write_fp(out)
        os.replace(tmp, path)
    finally:
        iso.close()
    return path
