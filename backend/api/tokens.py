"""ClientToken idempotency: the same token, action and access key answer with the first
successful response, kept in SQLite (`api_tokens`) so a restart of serve keeps the promise.
The same token with other parameters is IdempotentParameterMismatch, as in ECS.

A request with a token waits for another one with the same token still running, then reads
its answer; a failed call stores nothing (ECS: a retry after a failure runs again).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from backend.api.errors import ApiError
from backend.inventory.store import Store

KEEP_S = 7 * 24 * 3600  # a token is honoured for a week, then forgotten
MAX_TOKEN = 64  # ECS: at most 64 ASCII characters


@dataclass(slots=True)
class Slot:
    key: tuple[str, str, str] | None  # (access key id, action, token); None: no token
    digest: str = ""  # of the request's other parameters
    body: dict[str, Any] | None = None  # the first response, when there was one


def digest(params: dict[str, str]) -> str:
    """The parameters a token stands for (all but ClientToken itself)."""
    kept = sorted((k, v) for k, v in params.items() if k != "ClientToken")
    return hashlib.sha256(json.dumps(kept).encode()).hexdigest()


class ClientTokens:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    @asynccontextmanager
    async def once(self, key_id: str, action: str, params: dict[str, str]
                   ) -> AsyncIterator[Slot]:
        token = params.get("ClientToken", "")
        if not token:
            yield Slot(None)
            return
        key = (key_id, action, token)
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                row = self.store.row("SELECT digest, body FROM api_tokens WHERE key_id = ?"
                                     " AND action = ? AND token = ?", list(key))
                slot = Slot(key, digest(params))
                if row is not None:
                    if row["digest"] != slot.digest:
                        raise ApiError("IdempotentParameterMismatch", "The specified"
                                       " ClientToken was used already with other parameters.")
                    slot.body = json.loads(row["body"])
                yield slot
        finally:
            if not lock.locked() and self._locks.get(key) is lock:
                del self._locks[key]

    def remember(self, slot: Slot, body: dict[str, Any]) -> None:
        if slot.key is None:
            return
        now = time.time()
        with self.store.transaction():
            self.store.execute("DELETE FROM api_tokens WHERE time < ?", [now - KEEP_S])
            self.store.execute("INSERT OR REPLACE INTO api_tokens (key_id, action, token,"
                               " digest, body, time) VALUES (?, ?, ?, ?, ?, ?)",
                               [*slot.key, slot.digest, json.dumps(body), now])


def check_token(token: str) -> str:
    """'' if `token` is a valid ClientToken, else why not."""
    if len(token) > MAX_TOKEN or not token.isascii() or not token.isprintable():
        return f"must be at most {MAX_TOKEN} printable ASCII characters"
    return ""
