"""Key pairs: OpenSSH public keys imported (or generated with ssh-keygen) for instances."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import os
import shutil
import struct
import time
from pathlib import Path
from typing import Any

from backend.inventory import journal, validate
from backend.inventory.audit import Audit
from backend.inventory.errors import ConflictError, LecsError, NotFoundError, ValidationError
from backend.inventory.journal import Journal, journaled, journaled_sync
from backend.inventory.paths import Paths, private_dir
from backend.inventory.store import Store
from backend.network.records import KeyPair

KEY_TYPES = {
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
}
MAX_KEY = 16384


def parse_public_key(text: str) -> tuple[str, bytes, str]:
    """(type, blob, comment) of one OpenSSH public key line; ValidationError if it is not."""
    if "PRIVATE KEY" in text:
        raise ValidationError("that is a private key; import the public key (.pub) only")
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()
             and not ln.lstrip().startswith("#")]
    if len(lines) != 1:
        raise ValidationError("expected exactly one OpenSSH public key line"
                              " (e.g. the contents of ~/.ssh/id_ed25519.pub)")
    parts = lines[0].split(None, 2)
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        shown = parts[0][:40] if parts else ""
        raise ValidationError(f"not an OpenSSH public key: unknown key type {shown!r}")
    try:
        blob = base64.b64decode(parts[1], validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        inner = blob[4:4 + length].decode()
    except (binascii.Error, struct.error, UnicodeDecodeError, ValueError):
        raise ValidationError("not an OpenSSH public key: the base64 key data is damaged"
                              ) from None
    if inner != parts[0]:
        raise ValidationError(f"not an OpenSSH public key: data says {inner!r},"
                              f" line says {parts[0]!r}")
    comment = parts[2] if len(parts) > 2 else ""
    if any(ord(c) < 32 for c in comment):
        raise ValidationError("the key comment has control characters")
    return parts[0], blob, comment


def _is_file(text: str) -> bool:
    try:
        return "\n" not in text and Path(text).expanduser().is_file()
    except OSError:  # e.g. a name too long: key text, not a path
        return False


def fingerprint(blob: bytes) -> str:
    """SHA256 fingerprint exactly as `ssh-keygen -l` prints it."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def _row_to_keypair(row: dict[str, Any]) -> KeyPair:
    return KeyPair(
        name=row["name"], key_type=row["key_type"], fingerprint=row["fingerprint"],
        public_key=row["public_key"], comment=row["comment"] or "",
        created_at=row["created_at"], private_key_path=row["private_key_path"] or "",
    )


class KeyPairs:
    def __init__(self, store: Store, paths: Paths, audit: Audit, journal: Journal) -> None:
        self.journal = journal
        self.store = store
        self.paths = paths
        self.audit = audit

    @property
    def keys_dir(self) -> Path:
        return self.paths.home / "keys"

    def list(self) -> list[KeyPair]:
        return [_row_to_keypair(r) for r in self.store.rows("SELECT * FROM keypairs ORDER BY name")]

    def get(self, name: str) -> KeyPair:
        row = self.store.row("SELECT * FROM keypairs WHERE name = ?", [name])
        if row is None:
            raise NotFoundError(f"key pair {name!r} not found")
        return _row_to_keypair(row)

    def _check_new(self, name: str) -> None:
        validate.name(name, "key pair name")
        if self.store.row("SELECT name FROM keypairs WHERE name = ?", [name]):
            raise ConflictError(f"a key pair named {name!r} exists already")

    def _insert(self, name: str, text: str, private: str = "") -> KeyPair:
        key_type, blob, comment = parse_public_key(text)
        row = {
            "name": name, "key_type": key_type, "fingerprint": fingerprint(blob),
            "public_key": f"{key_type} {base64.b64encode(blob).decode()}"
                          + (f" {comment}" if comment else ""),
            "comment": comment, "created_at": time.time(), "private_key_path": private,
        }
        with self.store.transaction() as db:
            db.table("keypairs").insert(row)
        return _row_to_keypair(row)

    @journaled_sync("keypair.import")
    def import_key(self, name: str, public_key: str | Path, private_key: str | Path = ""
                   ) -> KeyPair:
        """Import an OpenSSH public key (its text, or a path to a .pub file)."""
        params = {"name": name, "source": str(public_key)[:80], "private_key": str(private_key)}
        with self.audit.track("keypair.import", name, params):
            self._check_new(name)
            text = str(public_key)
            if not any(c.isspace() for c in text.strip()) or _is_file(text):
                path = validate.existing_file(text, "public key file")
                if path.stat().st_size > MAX_KEY:
                    raise ValidationError(f"{path} is too large for a public key")
                text = path.read_text(errors="replace")
            private = ""
            if private_key:
                private = str(validate.existing_file(private_key, "private key file"))
            return self._insert(name, text, private)

    @journaled("keypair.create")
    async def create(self, name: str, key_type: str = "ed25519") -> KeyPair:
        """Generate a new pair with ssh-keygen; the private key stays in LECS_HOME/keys (0600)."""
        with self.audit.track("keypair.create", name, {"name": name, "type": key_type}):
            self._check_new(name)
            if key_type not in ("ed25519", "rsa", "ecdsa"):
                raise ValidationError(f"unknown key type {key_type!r}: use ed25519, rsa or ecdsa")
            keygen = shutil.which("ssh-keygen")
            if not keygen:
                raise LecsError("ssh-keygen is not installed (apt-get install openssh-client)")
            private_dir(self.keys_dir)
            path = self.keys_dir / name
            pub = Path(str(path) + ".pub")  # not with_suffix: "a.b" must not touch "a.pub"
            journal.effect("keypair.sync", name=name, files=[str(path), str(pub)])
            for stale in (path, pub):
                stale.unlink(missing_ok=True)
            proc = await asyncio.create_subprocess_exec(
                keygen, "-q", "-t", key_type, "-N", "", "-C", f"lecs-{name}", "-f", str(path),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await proc.communicate()
            if proc.returncode != 0:
                raise LecsError(f"ssh-keygen failed: {err.decode(errors='replace').strip()}")
            os.chmod(path, 0o600)
            os.chmod(pub, 0o600)
            journal.step("generated")
            try:
                return self._insert(name, pub.read_text(), str(path))
            except BaseException:
                path.unlink(missing_ok=True)
                pub.unlink(missing_ok=True)
                raise

    def delete(self, name: str) -> None:
        with self.audit.track("keypair.delete", name):
            pair = self.get(name)
            users = self.store.rows("SELECT name FROM instances WHERE key_pair = ?", [name])
            if users:
                names = ", ".join(sorted(u["name"] for u in users))
                raise ConflictError(f"key pair {name!r} is in use by {names}")
            owned = self.keys_dir / name
            files = [str(owned), str(owned) + ".pub"] if pair.private_key_path == str(owned) else []
            with self.journal.sync_operation("keypair.delete", name) as op:
                op.effect("keypair.sync", name=name, files=files)
                with self.store.transaction() as db:
                    db.table("keypairs").delete(name)
                op.step("row")
                for file in files:
                    Path(file).unlink(missing_ok=True)


def recover(keypairs: KeyPairs, data: dict[str, Any]) -> None:
    """A killed create or delete (`keypair.sync`): the files lecs made for a pair that has
    no row (never stored, or deleted) go."""
    name = str(data["name"])
    if keypairs.store.row("SELECT name FROM keypairs WHERE name = ?", [name]):
        return
    for file in data.get("files", []):
        path = Path(str(file)).resolve()
        if path.parent == keypairs.keys_dir.resolve():
            path.unlink(missing_ok=True)
