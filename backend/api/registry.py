"""The ECS actions by name. Action modules register handlers with `@action(NAME, params=…)`.

A handler gets one `Call` (the facade, the request's parameters, the access key's user name,
the RequestId) and returns the response body without RequestId (the server adds it), or
raises `ApiError`. Handlers reach the engine only through `call.cloud` (the facade).

`params` declares the parameter names the action honours (besides the common and signature
parameters the server strips). Names are matched with shell-style patterns (`fnmatchcase`):
`"Tag.*"` matches `Tag.1.Key`, `"DataDisk.*.Size"` matches `DataDisk.2.Size`. The server
refuses any other name with InvalidParameter BEFORE the handler runs, so a request never has
half its effect: an action that declares nothing accepts no parameters at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
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
PARAMS: dict[str, tuple[str, ...]] = {}  # action name -> the parameter name patterns it accepts


def action(name: str, params: Iterable[str] = ()) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if name in ACTIONS:
            raise ValueError(f"action {name} registered twice")
        ACTIONS[name] = handler
        PARAMS[name] = tuple(params)
        return handler

    return register


def unaccepted(name: str, params: Iterable[str]) -> list[str]:
    """The parameter names of a request to action `name` that it does not declare, sorted."""
    patterns = PARAMS.get(name, ())
    return sorted(p for p in params if not any(fnmatchcase(p, pat) for pat in patterns))
