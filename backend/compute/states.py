"""The instance state machine (PRODUCT.md): which operation is allowed from which state."""

from __future__ import annotations

from backend.inventory.errors import StateError
from backend.inventory.records import InstanceState as S

ALLOWED: dict[str, frozenset[S]] = {
    "start": frozenset({S.STOPPED, S.ERROR}),
    "stop": frozenset({S.RUNNING}),
    "reboot": frozenset({S.RUNNING}),
    "force-stop": frozenset({S.RUNNING, S.PAUSED, S.STARTING, S.STOPPING, S.REBOOTING, S.ERROR}),
    "delete": frozenset({S.PENDING, S.RUNNING, S.PAUSED, S.STOPPED, S.ERROR, S.STARTING, S.STOPPING,
                         S.REBOOTING}),
    "console": frozenset({S.RUNNING, S.PAUSED, S.STARTING, S.REBOOTING}),
    "pause": frozenset({S.RUNNING}),
    "resume": frozenset({S.PAUSED}),
    "rename": frozenset({S.PENDING, S.RUNNING, S.PAUSED, S.STOPPED, S.ERROR, S.STARTING,
                         S.STOPPING, S.REBOOTING}),
    "resize": frozenset({S.STOPPED}),
    "rebuild": frozenset({S.STOPPED}),
    "clone": frozenset({S.STOPPED, S.RUNNING}),
}
# What to do first, when the usual way there is one step (ECS: IncorrectInstanceStatus).
HINTS: dict[str, str] = {"resize": "stop it first", "rebuild": "stop it first"}


def check(operation: str, state: S, name: str) -> None:
    allowed = ALLOWED[operation]
    if state not in allowed:
        can = ", ".join(sorted(s.value for s in allowed))
        raise StateError(
            f"cannot {operation} instance {name!r}: it is {state.value} ({operation} needs {can})"
            + (f"; {HINTS[operation]}" if operation in HINTS and state in (S.RUNNING, S.PAUSED)
               else "")
        )


def operations_for(state: S) -> list[str]:
    return [op for op, allowed in ALLOWED.items() if state in allowed]
