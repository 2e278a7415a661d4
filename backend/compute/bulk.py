"""Bulk instance operations (issue #15 item 4): `create NAME --count N` makes NAME-1…NAME-N
side by side; start, stop, reboot, delete, pause and resume run on several instances at
once (names, a tag, or all), each one its own journaled, audited operation, each result
reported. One failure stops no other."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backend.inventory import validate
from backend.inventory.errors import LecsError, NotFoundError, ValidationError

if TYPE_CHECKING:
    from backend.compute.instances import Instances
    from backend.compute.records import Instance

MAX_COUNT = 50  # instances one `create --count` makes


@dataclass(slots=True)
class Outcome:
    name: str
    id: str = ""
    ok: bool = True
    state: str = ""  # the instance's state after the operation ("deleted" after a delete)
    error: str = ""


def names_for(name: str, count: int) -> list[str]:
    """NAME-1 … NAME-N, each a valid instance name."""
    if not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ValidationError(f"invalid --count {count!r}: 1 to {MAX_COUNT}")
    validate.name(name, "instance name")
    return [validate.name(f"{name}-{n}", "instance name") for n in range(1, count + 1)]


def select(inst: Instances, names: list[str], tags: dict[str, str], every: bool) -> list[str]:
    """The instances a bulk verb acts on, in order, each once: the names given, then those
    tagged so (all tags must match), or with `every` all of them."""
    if every:
        if names or tags:
            raise ValidationError("--all takes no names and no --tag")
        chosen = [i.name for i in inst.list(reconcile=False)]
        if not chosen:
            raise NotFoundError("there are no instances")
        return chosen
    chosen = list(dict.fromkeys(names))
    if tags:
        tagged = [i.name for i in inst.list(reconcile=False)
                  if all(i.tags.get(k) == v for k, v in tags.items())]
        if not tagged:
            wanted = ", ".join(f"{k}={v}" for k, v in tags.items())
            raise NotFoundError(f"no instance is tagged {wanted}")
        chosen += [n for n in tagged if n not in chosen]
    if not chosen:
        raise ValidationError("name one or more instances, or give --tag KEY=VALUE or --all")
    return chosen


async def each(inst: Instances, verb: str, refs: list[str],
               call: Callable[[str], Awaitable[Instance | None]]) -> list[Outcome]:
    """Run `call` on every ref side by side; a ref that names no instance is refused (and
    audited) without a call."""

    async def one(ref: str) -> Outcome:
        row = inst.store.row("SELECT id, name FROM instances WHERE id = ? OR name = ?",
                             [ref, ref])
        if row is None:
            error = f"instance {ref!r} not found"
            inst.audit.record(f"instance.{verb}", ref, {"refused": True}, "failure", error)
            return Outcome(ref, ok=False, error=error)
        try:
            got = await call(row["id"])
        except LecsError as exc:  # audited by the operation itself
            return Outcome(row["name"], row["id"], ok=False, error=str(exc))
        except Exception as exc:  # never one instance's surprise for all of them
            return Outcome(row["name"], row["id"], ok=False,
                           error=f"{type(exc).__name__}: {exc}")
        state = got.state.value if got is not None else "deleted"
        return Outcome(row["name"], row["id"], state=state)

    return list(await asyncio.gather(*(one(r) for r in refs)))


async def create_many(inst: Instances, name: str, count: int,
                      **create: Any) -> list[Outcome]:
    """NAME-1 … NAME-N created side by side (each `Instances.create`, journaled and
    audited on its own)."""
    wanted = names_for(name, count)

    async def one(each_name: str) -> Outcome:
        try:
            made = await inst.create(each_name, **create)
        except LecsError as exc:
            return Outcome(each_name, ok=False, error=str(exc))
        except Exception as exc:
            return Outcome(each_name, ok=False, error=f"{type(exc).__name__}: {exc}")
        return Outcome(made.name, made.id, state=made.state.value)

    return list(await asyncio.gather(*(one(n) for n in wanted)))
