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
}


def check(operation: str, state: S, name: str) -> None:
    allowed = ALLOWED[operation]
    if state not in allowed:
        can = ", ".join(sorted(s.value for s in allowed))
        raise StateError(
            f"cannot {operation} instance {name!r}: it is {state.value} ({operation} needs {can})"
        )


def operations_for(state: S) -> list[str]:
    return [op for op, allowed in ALLOWED.items() if state in allowed]
