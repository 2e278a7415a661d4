"""The operation journal: intent and external effects are recorded before they happen, and
whoever opens the inventory next recovers what a killed process left (crash-only).

    async with journal.operation("instance.create", instance_id) as op:
        op.effect("instance.purge", instance=instance_id, files=[...])  # before making them
        ...                                                             # make files, QEMU…
        op.step("row")                                                  # a crash point

An operation's row lives exactly as long as its operation: the owner deletes it when the
operation ends, well or badly (on an exception the owner's own clean-up has run). A row whose
owner is gone — its pid no longer runs, or runs a process started at another time — is an
operation killed mid-way: `recover()` claims it, runs the handler of each of its effects in
reverse order and deletes it. Handlers are registered by kind (`handle`); each must bring
reality and the inventory to a consistent state whether or not its effect happened (remove a
file if it is there, kill a QEMU proven to be the instance's, finish a delete), so recovery
is idempotent and may itself be killed and run again.

Every effect and step is a crash point named `<action>:<kind>` (backend/inventory/crash.py).
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from backend.inventory import crash
from backend.inventory.ids import new_id
from backend.inventory.store import Store

if TYPE_CHECKING:
    from backend.inventory.audit import Audit

Handler = Callable[[str, dict[str, Any]], Awaitable[None]]  # (action, effect data)
Method = TypeVar("Method", bound=Callable[..., Awaitable[Any]])
F = TypeVar("F", bound=Callable[..., Any])


def process_start(pid: int) -> int | None:
    """The start time of a process (clock ticks after boot), or None if it does not run."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()  # after "pid (comm) "
    if fields[0] == b"Z":  # a zombie has finished its work
        return None
    return int(fields[19])


CURRENT: ContextVar[Operation | None] = ContextVar("lecs_operation", default=None)


def step(name: str) -> None:
    """A crash point in whatever operation this task is running (none: nothing)."""
    op = CURRENT.get()
    if op is not None:
        op.step(name)


def effect(kind: str, **data: Any) -> None:
    """Record an effect in the operation this task is running (see `journaled`)."""
    op = CURRENT.get()
    if op is None:
        raise RuntimeError(f"effect {kind!r} outside a journaled operation")
    op.effect(kind, **data)


def journaled_sync(action: str) -> Callable[[F], F]:
    """`journaled` for a method with no await in it (most are one transaction: the journal
    then only says, while it runs, which operation holds the inventory)."""

    def wrap(method: F) -> F:
        @functools.wraps(method)
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            with self.journal.sync_operation(action, str(args[0]) if args else ""):
                return method(self, *args, **kwargs)

        return cast("F", run)

    return wrap


def journaled(action: str) -> Callable[[Method], Method]:
    """Run an async service method (its first argument names the resource) as one journaled
    operation; its body records effects with `effect(...)` (the service has `.journal`)."""

    def wrap(method: Method) -> Method:
        @functools.wraps(method)
        async def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            resource = str(args[0]) if args else ""
            async with self.journal.operation(action, resource):
                return await method(self, *args, **kwargs)

        return cast("Method", run)

    return wrap


MY_PID = os.getpid()
MY_START = process_start(MY_PID) or 0


@dataclass(slots=True)
class Operation:
    journal: Journal
    id: str
    action: str
    resource: str
    seq: int = 0

    def effect(self, kind: str, **data: Any) -> None:
        """Record an effect about to happen (its handler undoes or finishes it)."""
        self.seq += 1
        self.journal.write(
            "INSERT INTO effects (op_id, seq, kind, data) VALUES (?, ?, ?, ?)",
            [self.id, self.seq, kind, json.dumps(data)],
        )
        crash.point(f"{self.action}:{kind}")

    def step(self, name: str) -> None:
        """A step boundary with nothing new to record: a crash point only."""
        crash.point(f"{self.action}:{name}")


class Journal:
    def __init__(self, store: Store, audit: Audit | None = None) -> None:
        self.store = store
        self.audit = audit  # a refused operation that recorded nothing is audited here
        self.handlers: dict[str, Handler] = {}
        self.failures: list[str] = []  # recoveries that raised (shown by `lecs doctor`)

    def write(self, sql: str, params: list[Any]) -> int:
        """One statement in its own write transaction; returns the rows it changed."""
        with self.store.transaction():
            return self.store.execute(sql, params).rowcount

    def handle(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    @asynccontextmanager
    async def operation(self, action: str, resource: str) -> AsyncIterator[Operation]:
        with self.sync_operation(action, resource) as op:
            yield op

    @contextmanager
    def sync_operation(self, action: str, resource: str) -> Iterator[Operation]:
        """The same for an operation with no await in it."""
        op = Operation(self, new_id("op"), action, resource)
        self.write(
            "INSERT INTO operations (id, action, resource, owner_pid, owner_start, started_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [op.id, action, resource, MY_PID, MY_START, time.time()],
        )
        token = CURRENT.set(op)
        recorded = self.audit.recorded if self.audit is not None else 0
        crash.point(f"{action}:begin")
        try:
            yield op
            crash.point(f"{action}:end")
        except Exception as exc:
            if self.audit is not None and self.audit.recorded == recorded:
                # refused before its own audit began (a check, a validation): every refused
                # mutating operation is in the audit trail too
                self.audit.record(action, resource, {"refused": True}, "failure",
                                  str(exc) or type(exc).__name__)
            raise
        finally:
            CURRENT.reset(token)
            self.write("DELETE FROM operations WHERE id = ?", [op.id])

    def unfinished(self) -> list[dict[str, Any]]:
        """Operations whose owner is gone (the owner's pid runs no more, or another process)."""
        rows = self.store.rows("SELECT * FROM operations ORDER BY started_at")
        return [r for r in rows if process_start(r["owner_pid"]) != r["owner_start"]]

    def busy(self) -> list[dict[str, Any]]:
        """Operations in progress in live processes (for 'the inventory is busy with …')."""
        rows = self.store.rows("SELECT * FROM operations ORDER BY started_at")
        return [r for r in rows if process_start(r["owner_pid"]) == r["owner_start"]]

    async def recover(self) -> list[str]:
        """Finish or roll back every operation a dead process left; returns their actions."""
        if not self.store.execute("SELECT 1 FROM operations LIMIT 1").fetchone():
            return []  # the usual case: one read, nothing to do
        done: list[str] = []
        for row in self.unfinished():
            claimed = self.write(  # one recoverer per operation, even if racing
                "UPDATE operations SET owner_pid = ?, owner_start = ? WHERE id = ?"
                " AND owner_pid = ? AND owner_start = ?",
                [MY_PID, MY_START, row["id"], row["owner_pid"], row["owner_start"]],
            )
            if not claimed:
                continue
            effects = self.store.rows(
                "SELECT kind, data FROM effects WHERE op_id = ? ORDER BY seq DESC", [row["id"]]
            )
            try:
                for effect in effects:
                    handler = self.handlers.get(effect["kind"])
                    if handler is not None:
                        await handler(row["action"], json.loads(effect["data"]))
            except Exception as exc:  # never let one bad recovery stop every start
                self.failures.append(f"recovering {row['action']} {row['resource']}: {exc}")
                continue  # left in the journal: the next start tries again
            crash.point("recover:end")
            self.write("DELETE FROM operations WHERE id = ?", [row["id"]])
            done.append(row["action"])
        return done
