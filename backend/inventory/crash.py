"""Named crash points at the engine's step boundaries, for the crash test (scripts/crashtest).

`point("instance.create:qemu")` does nothing unless the process was started with
`LECS_CRASH=NAME` (or `NAME#N` for the N-th passage): then it SIGKILLs itself there, as a
power cut or an OOM kill would. `LECS_CRASH_TRACE=FILE` appends every point passed to FILE,
so the crash test can list the points an operation goes through. Both are read once, at
import; with neither set a point costs one global lookup and a test.
"""

from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("LECS_CRASH", "")
_TRACE = os.environ.get("LECS_CRASH_TRACE", "")
_ACTIVE = bool(_SPEC or _TRACE)
_NAME, _, _NTH = _SPEC.partition("#")
_WANTED = int(_NTH) if _NTH.isdigit() else 1
_passed: dict[str, int] = {}


def point(name: str) -> None:
    if not _ACTIVE:
        return
    count = _passed[name] = _passed.get(name, 0) + 1
    if _TRACE:
        with open(_TRACE, "a") as trace:
            trace.write(f"{name}#{count}\n")
    if name == _NAME and count == _WANTED:
        os.kill(os.getpid(), signal.SIGKILL)
