"""The frame every instance operation of issue #15 runs in: reconcile, journal, audit,
lock, state check — the journal outermost, so a refusal is audited once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backend.compute import states
from backend.inventory.records import InstanceState

if TYPE_CHECKING:
    from backend.compute.instances import Instances
    from backend.inventory.audit import Tracker
    from backend.inventory.journal import Operation


@dataclass(slots=True)
class Guarded:
    row: dict[str, Any]  # the instance's row, read under its lock
    state: InstanceState
    op: Operation
    audit: Tracker


@asynccontextmanager
async def guarded(
    inst: Instances, verb: str, ref: str, params: dict[str, Any] | None = None,
    effect: str = "", check: bool = True, **data: Any,
) -> AsyncIterator[Guarded]:
    """`instance.<verb>` on `ref`: the row checked against reality, audited (success or
    failure, refusals too), under the instance's lock, allowed by the state machine, inside a
    journaled operation whose first effect is `effect` (with `instance=` and `data`)."""
    found = inst.store.row("SELECT id FROM instances WHERE id = ? OR name = ?", [ref, ref])
    if found:
        inst.reconcile([found["id"]])
    row = inst._row(ref)
    # The journal's operation outside the audit's: a refusal is audited once, by the audit.
    async with inst.journal.operation(f"instance.{verb}", row["id"]) as op:
        with inst.audit.track(f"instance.{verb}", row["id"], params or {}) as tracker:
            async with inst.locks.hold(row["id"]):
                row = inst._row(row["id"])
                state = InstanceState(row["state"])
                if check:  # (a refusal of its own comes first, e.g. resize --live)
                    states.check(verb, state, row["name"])
                if effect:
                    op.effect(effect, instance=row["id"], **data)
                yield Guarded(row, state, op, tracker)
