"""The engine's errors as ECS's codes, and slow operations that answer the way ECS does.

A handler runs its facade calls inside `engine()`: a NotFoundError about an instance becomes
`InvalidInstanceId.NotFound` (404), a StateError `IncorrectInstanceStatus` (403), a
ValidationError `InvalidParameter`, and so on; the message is the engine's one line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from backend.api.errors import ApiError
from backend.inventory.errors import (
    ConflictError,
    LecsError,
    NotFoundError,
    StateError,
    ValidationError,
)

T = TypeVar("T")

# The engine names the kind of resource first in its messages ("disk 'x' not found").
NOT_FOUND = (
    ("instance type", "InvalidInstanceType.ValueNotSupported", 400),
    ("unknown instance type", "InvalidInstanceType.ValueNotSupported", 400),
    ("instance", "InvalidInstanceId.NotFound", 404),
    ("disk", "InvalidDiskId.NotFound", 404),
    ("snapshot", "InvalidSnapshotId.NotFound", 404),
    ("image", "InvalidImageId.NotFound", 404),
    ("security group", "InvalidSecurityGroupId.NotFound", 404),
    ("key pair", "InvalidKeyPairName.NotFound", 404),
)
WRONG_STATE = {
    "instance": "IncorrectInstanceStatus",
    "disk": "IncorrectDiskStatus",
    "image": "IncorrectImageStatus",
    "snapshot": "IncorrectSnapshotStatus",
}
DUPLICATE = {"key pair": "KeyPair.AlreadyExist", "instance": "InvalidInstanceName.Duplicate",
             "disk": "InvalidDiskName.Duplicate", "image": "InvalidImageName.Duplicated",
             "security group": "InvalidSecurityGroupName.Duplicate"}


def _kind(message: str, kinds: tuple[str, ...], fallback: str) -> str:
    """The kind of resource a message names first ("cannot stop instance 'x'" → instance)."""
    text = message.lower()
    found = sorted((text.find(k), k) for k in kinds if k in text)
    return found[0][1] if found else fallback


def as_api_error(exc: LecsError, kind: str) -> ApiError:
    message = str(exc) or type(exc).__name__
    if isinstance(exc, NotFoundError):
        lowered = message.lower()
        for prefix, code, status in NOT_FOUND:
            if lowered.startswith(prefix):
                return ApiError(code, message, status)
        for prefix, code, status in NOT_FOUND:
            if prefix == kind:
                return ApiError(code, message, status)
        return ApiError("InvalidParameter", message)
    if isinstance(exc, StateError):
        which = _kind(message, tuple(WRONG_STATE), kind)
        return ApiError(WRONG_STATE.get(which, "IncorrectStatus"), message, 403)
    if isinstance(exc, ConflictError):
        if "exists already" in message:  # "a disk named 'x' exists already"
            return ApiError(DUPLICATE.get(_kind(message, tuple(DUPLICATE), kind),
                                          "OperationConflict"), message, 400)
        if "in use" in message or "named by rules" in message:
            return ApiError("DependencyViolation", message, 403)
        return ApiError("OperationConflict", message, 409)
    if isinstance(exc, ValidationError):
        return ApiError("InvalidParameter", message, 400)
    # 4xx as the server's fallback: an SDK retries a 5xx, and a retried mutation is not wanted
    return ApiError("OperationFailed", message, 400)


@contextmanager
def engine(kind: str = "instance") -> Iterator[None]:
    """Facade calls inside: the engine's errors come out as ECS's (ApiError)."""
    try:
        yield
    except LecsError as exc:
        raise as_api_error(exc, kind) from None


_RUNNING: set[asyncio.Task[object]] = set()  # operations that outlived their request
ANSWER_WITHIN = 5.0  # seconds a request waits for its operation before answering


async def settle(work: Awaitable[T], kind: str = "instance",
                 within: float = ANSWER_WITHIN) -> T | None:
    """Run `work`; answer with its result (or its error) if it ends within `within` seconds,
    else answer None while it goes on (as ECS answers a StopInstance while the instance is
    Stopping). An operation that outlives its request still writes its own audit event and
    journal; a process killed under it is recovered by the next one to open the inventory."""
    task: asyncio.Task[T] = asyncio.ensure_future(work)
    _RUNNING.add(task)  # type: ignore[arg-type]
    task.add_done_callback(_finished)
    done, _pending = await asyncio.wait({task}, timeout=within)
    if not done:
        return None
    with engine(kind):
        return task.result()


def _finished(task: asyncio.Task[object]) -> None:
    _RUNNING.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: its failure is in the audit trail, not the log


async def drain(timeout: float = 60.0) -> list[str]:
    """Wait up to `timeout` s for the operations still running (serve stopping, a test);
    returns the names of those that did not end (cancelled with the loop: their journal
    rows go, and reconcile makes their rows follow QEMU)."""
    if _RUNNING:
        await asyncio.wait(set(_RUNNING), timeout=timeout)
    return [t.get_name() for t in _RUNNING]
