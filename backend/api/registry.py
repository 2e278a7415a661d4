"""The ECS actions by name. Each action module registers its handlers with `@action(NAME)`.

A handler gets one `Call` (the facade, the request's parameters, the access key's user name,
the RequestId) and returns the response body without RequestId (the server adds it), or
raises `ApiError`. Handlers reach the engine only through `call.cloud` (the facade).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend.cloud import Cloud


@dataclass(slots=True)
class Call:
    cloud: Cloud
    params: dict[str, str]  # the request's parameters, less the common and signature ones
    user: str  # the access key's name: the audit trail's user for this call
    request_id: str
    consumed: set[str] = field(default_factory=set)  # names a handler read (see params)


Handler = Callable[[Call], Awaitable[dict[str, Any]]]
ACTIONS: dict[str, Handler] = {}


def action(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if name in ACTIONS:
            raise ValueError(f"action {name} registered twice")
        ACTIONS[name] = handler
        return handler

    return register
