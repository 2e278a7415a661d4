"""Access keys: an AccessKeyId (a row) and its AccessKeySecret (a 0600 file under
`$LECS_HOME/accesskeys`, a 0700 dir). The secret is shown once, at create, and is never put
in a row, an audit event, the journal or a log; only the API's signature check reads it.

Create and delete are journaled (`accesskey.sync`): recovery makes the row and the file
agree — a secret file with no row goes, a row whose secret is gone goes too.
"""

from __future__ import annotations

import enum
import os
import re
import secrets
import string
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.inventory import journal, validate
from backend.inventory.audit import Audit
from backend.inventory.errors import ConflictError, LecsError, NotFoundError, StateError
from backend.inventory.journal import Journal, journaled_sync
from backend.inventory.paths import Paths, private_dir
from backend.inventory.store import Store

KEY_ID_RE = re.compile(r"^LTAI[0-9A-Za-z]{20}$")
ALPHABET = string.ascii_letters + string.digits


class KeyState(enum.StrEnum):  # RAM's names for them
    ACTIVE = "Active"
    INACTIVE = "Inactive"


@dataclass(slots=True, frozen=True)
class AccessKey:
    key_id: str
    name: str
    state: KeyState
    created: float


def _random(n: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(n))


def _row(row: dict[str, Any]) -> AccessKey:
    return AccessKey(row["id"], row["name"], KeyState(row["state"]), row["created"])


class AccessKeys:
    def __init__(self, store: Store, paths: Paths, audit: Audit, journal: Journal) -> None:
        self.store = store
        self.paths = paths
        self.audit = audit
        self.journal = journal

    @property
    def directory(self) -> Path:
        return self.paths.home / "accesskeys"

    def secret_path(self, key_id: str) -> Path:
        if not KEY_ID_RE.match(key_id):
            raise NotFoundError(f"access key {key_id!r} not found")
        return self.directory / f"{key_id}.secret"

    def list(self) -> list[AccessKey]:
        return [_row(r) for r in self.store.rows("SELECT * FROM access_keys ORDER BY name")]

    def find(self, key_id: str) -> AccessKey | None:
        """The key of an AccessKeyId (as a request names it), or None."""
        row = self.store.row("SELECT * FROM access_keys WHERE id = ?", [key_id])
        return _row(row) if row else None

    def get(self, ref: str) -> AccessKey:
        """A key by its name or its AccessKeyId."""
        row = self.store.row("SELECT * FROM access_keys WHERE name = ? OR id = ?", [ref, ref])
        if row is None:
            raise NotFoundError(f"access key {ref!r} not found")
        return _row(row)

    def secret(self, key_id: str) -> str:
        """The secret of a stored key (for the signature check only)."""
        try:
            return self.secret_path(key_id).read_text().strip()
        except OSError:
            raise LecsError(f"the secret of access key {key_id} is missing") from None

    @journaled_sync("accesskey.create")
    def create(self, name: str) -> tuple[AccessKey, str]:
        """A new key: (the key, its secret). The secret is returned this once."""
        with self.audit.track("accesskey.create", name, {"name": name}) as tracker:
            validate.name(name, "access key name")
            if self.store.row("SELECT id FROM access_keys WHERE name = ?", [name]):
                raise ConflictError(f"an access key named {name!r} exists already")
            key = AccessKey(f"LTAI{_random(20)}", name, KeyState.ACTIVE, time.time())
            tracker.resource = key.key_id
            path = self.secret_path(key.key_id)
            journal.effect("accesskey.sync", key=key.key_id)
            private_dir(self.directory)
            secret = _random(30)
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as fout:
                fout.write(secret)
            journal.step("secret")
            try:
                with self.store.transaction() as db:
                    db.table("access_keys").insert({"id": key.key_id, "name": name,
                                                    "state": key.state.value,
                                                    "created": key.created})
            except BaseException:
                path.unlink(missing_ok=True)
                raise
            return key, secret

    @journaled_sync("accesskey.disable")
    def disable(self, ref: str) -> AccessKey:
        with self.audit.track("accesskey.disable", ref) as tracker:
            key = self.get(ref)
            tracker.resource = key.key_id
            if key.state is KeyState.INACTIVE:
                raise StateError(f"access key {key.name} is {key.state.value} already;"
                                 " an Active key can be disabled")
            with self.store.transaction():
                self.store.execute("UPDATE access_keys SET state = ? WHERE id = ?",
                                   [KeyState.INACTIVE.value, key.key_id])
            return AccessKey(key.key_id, key.name, KeyState.INACTIVE, key.created)

    @journaled_sync("accesskey.delete")
    def delete(self, ref: str) -> AccessKey:
        with self.audit.track("accesskey.delete", ref) as tracker:
            key = self.get(ref)
            tracker.resource = key.key_id
            journal.effect("accesskey.sync", key=key.key_id)
            with self.store.transaction():
                self.store.execute("DELETE FROM access_keys WHERE id = ?", [key.key_id])
            journal.step("row")
            self.secret_path(key.key_id).unlink(missing_ok=True)
            return key


def recover(keys: AccessKeys, data: dict[str, Any]) -> str:
    """A killed create or delete: the row and the secret file agree afterwards. Returns what
    was done ('' when they agreed already)."""
    key_id = str(data["key"])
    if not KEY_ID_RE.match(key_id):
        return ""  # not an id lecs made: touch nothing
    path = keys.secret_path(key_id)
    row = keys.find(key_id)
    if row is None and path.exists():
        path.unlink()
        return "secret without key removed"
    if row is not None and not path.exists():
        with keys.store.transaction():
            keys.store.execute("DELETE FROM access_keys WHERE id = ?", [key_id])
        return "key without secret removed"
    return ""
