"""The audit trail (Cloud Trace analog): one event per mutating operation, success or failure."""

from __future__ import annotations

import getpass
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from backend.inventory.records import Event
from backend.inventory.store import Store

# Tables whose rows have a name an event may be looked up by (keypairs are named by name).
NAMED = ("instances", "disks", "images", "security_groups", "snapshots", "backups", "alarms",
         "networks")
ATTACHING = "('disk.attach', 'disk.detach', 'sg.attach', 'sg.detach')"


# Whose request this task serves (`lecs serve`: the access key's name); None: the process's user.
ACTING: ContextVar[str | None] = ContextVar("lecs_acting_user", default=None)


@contextmanager
def acting_as(user: str) -> Iterator[None]:
    """Events recorded inside (by this task and the tasks it starts) name `user`."""
    token = ACTING.set(user)
    try:
        yield
    finally:
        ACTING.reset(token)


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(slots=True)
class Tracker:
    """Handed to the body of `Audit.track`; the body may name the resource once it exists."""

    resource: str
    parameters: dict[str, Any] = field(default_factory=dict)


class Audit:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.process_user = current_user()
        self.recorded = 0  # events this process wrote (the journal audits silent refusals)

    @property
    def user(self) -> str:
        """The user events are recorded for: the API caller's key name inside `acting_as`,
        else the process's user (the CLI and the dashboard)."""
        return ACTING.get() or self.process_user

    def record(
        self,
        action: str,
        resource: str,
        parameters: dict[str, Any] | None = None,
        result: str = "success",
        error: str = "",
        duration_ms: float = 0.0,
    ) -> None:
        if self.store.read_only:  # nothing changed: the operation itself was refused
            return
        self.recorded += 1
        self.store.db.table("events").insert({
            "time": time.time(),
            "user": self.user,
            "action": action,
            "resource": resource,
            "parameters": json.dumps(parameters or {}, sort_keys=True, default=str),
            "result": result,
            "error": error,
            "duration_ms": round(duration_ms, 1),
        })

    @contextmanager
    def track(
        self, action: str, resource: str, parameters: dict[str, Any] | None = None
    ) -> Iterator[Tracker]:
        tracker = Tracker(resource, dict(parameters or {}))
        started = time.perf_counter()
        try:
            yield tracker
        except BaseException as exc:
            self.record(
                action, tracker.resource, tracker.parameters, "failure",
                str(exc) or type(exc).__name__, (time.perf_counter() - started) * 1000,
            )
            raise
        self.record(
            action, tracker.resource, tracker.parameters, "success", "",
            (time.perf_counter() - started) * 1000,
        )

    def resource_ids(self, ref: str) -> list[str]:
        """Every resource `ref` names (an id, or the name of an instance, disk, image, group,
        snapshot, backup, alarm, key pair or network), `ref` itself first: events of a
        refused operation name the resource as it was asked for."""
        found = [ref]
        for table in NAMED:
            for row in self.store.execute(f"SELECT id FROM {table} WHERE name = ?", [ref]):
                if row[0] not in found:
                    found.append(str(row[0]))
        return found

    def list(
        self, resource: str | None = None, limit: int = 200, since_id: int = 0,
        since: float | None = None, until: float | None = None,
    ) -> list[Event]:
        """Newest first. `resource` is an id or a name (see `resource_ids`); an instance's
        events include its disks' and groups' attach and detach."""
        sql = "SELECT * FROM events WHERE id > ?"
        params: list[Any] = [since_id]
        if resource:
            ids = self.resource_ids(resource)
            marks = ",".join("?" * len(ids))
            sql += (f" AND (resource IN ({marks}) OR (action IN {ATTACHING}"
                    f" AND json_extract(parameters, '$.instance') IN ({marks})))")
            params += ids + ids
        if since is not None:
            sql += " AND time >= ?"
            params.append(since)
        if until is not None:
            sql += " AND time <= ?"
            params.append(until)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        return [
            Event(
                id=row["id"], time=row["time"], user=row["user"], action=row["action"],
                resource=row["resource"], parameters=json.loads(row["parameters"] or "{}"),
                result=row["result"], error=row["error"] or "",
                duration_ms=row["duration_ms"] or 0.0,
            )
            for row in self.store.rows(sql, params)
        ]
