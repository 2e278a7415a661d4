"""The key store (KMS analog): one random passphrase per encrypted volume, in 0600 files.

Keys live under `$LECS_HOME/keys` (a 0700 dir). They are handed to QEMU and qemu-img only
as `secret` objects that name the key *file*, so a key never appears on a command line, in
the audit trail or in a log. Key ids are the volume's id (`d-…`) or, for a backup copy,
`bk-….d-…`.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from backend.inventory.errors import LecsError, ValidationError
from backend.inventory.paths import Paths, private_dir

KEY_ID_RE = re.compile(r"^[a-z]+-[0-9a-z]+(\.[a-z]+-[0-9a-z]+)?$")


def key_dir(paths: Paths) -> Path:
    return paths.home / "keys"


def key_path(paths: Paths, key_id: str) -> Path:
    """Where the key of `key_id` lives (whether or not it exists)."""
    if not KEY_ID_RE.match(key_id):
        raise ValidationError(f"invalid key id {key_id!r}")
    return key_dir(paths) / f"{key_id}.key"


class KeyStore:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    def path(self, key_id: str) -> Path:
        return key_path(self.paths, key_id)

    def exists(self, key_id: str) -> bool:
        return self.path(key_id).is_file()

    def create(self, key_id: str) -> Path:
        """Make a new random key (256 bits, as URL-safe text); refuses to overwrite one."""
        private_dir(key_dir(self.paths))
        path = self.path(key_id)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            raise LecsError(f"a key for {key_id} exists already") from None
        with os.fdopen(fd, "w") as fout:
            fout.write(secrets.token_urlsafe(32))
        return path

    def require(self, key_id: str) -> Path:
        """The key file of an encrypted volume; a clear error if it was lost."""
        path = self.path(key_id)
        if not path.is_file():
            raise LecsError(f"the key of encrypted volume {key_id} is missing from {path.parent}")
        mode = path.stat().st_mode & 0o777
        if mode != 0o600:
            path.chmod(0o600)
        return path

    def remove(self, key_id: str) -> None:
        self.path(key_id).unlink(missing_ok=True)

    def ids(self) -> list[str]:
        directory = key_dir(self.paths)
        if not directory.exists():
            return []
        return sorted(p.stem for p in directory.glob("*.key"))
