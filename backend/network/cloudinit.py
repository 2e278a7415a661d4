"""NoCloud seed ISO (volume label `cidata`): meta-data, user-data, written with pycdlib.

cloud-init in a real cloud image and the tiny guest's init both read it: hostname
(`local-hostname`), SSH keys (`public-keys`) and the user-data (a `#!` script or
`#cloud-config`).
"""

from __future__ import annotations

import io
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


def meta_data(instance_id: str, host: str, public_keys: list[str]) -> str:
    lines = [f"instance-id: {instance_id}", f"local-hostname: {host}"]
    if public_keys:
        lines.append("public-keys:")
        lines += [f"  - {key}" for key in public_keys]
    return "\n".join(lines) + "\n"


def _add(iso: pycdlib.PyCdlib, name: str, iso_name: str, data: bytes) -> None:
    iso.add_fp(io.BytesIO(data), len(data), f"/{iso_name};1", rr_name=name,
               joliet_path=f"/{name}")


def write_seed(path: Path, meta: str, user: str = "") -> Path:
    """Write the seed ISO to `path` (0600), atomically."""
    import pycdlib  # only when a seed is written: keeps it off the start-up path

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, vol_ident=LABEL, joliet=3, rock_ridge="1.09")
    try:
        _add(iso, "meta-data", "METADATA", meta.encode())
        _add(iso, "user-data", "USERDATA", user.encode())
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            iso.write_fp(out)
        os.replace(tmp, path)
    finally:
        iso.close()
    return path
