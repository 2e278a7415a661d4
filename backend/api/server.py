"""The ECS OpenAPI over HTTP (aiohttp): RPC style, `POST /` or `GET /` with the parameters in
the query (a form body is read too), JSON answers, a RequestId on every one.

One request: parameters gathered → signature checked (`signature.verify`, which names the
access key's user) → Version and Action checked → the action's declared parameters checked
(`registry.unaccepted`, BEFORE any effect) → a repeated ClientToken answered from the store
→ the handler, with the audit trail's user set to the key's name → one audit event per call.
A handler's `ApiError` is ECS's error body; an engine error becomes ECS's code for its kind;
anything else is InternalError, logged here with its traceback and never shown to the caller.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aiohttp import web

from backend.api import registry
from backend.api.errors import ApiError, missing_parameter
from backend.api.signature import Verifier
from backend.api.tokens import ClientTokens, check_token
from backend.inventory import audit as audit_mod
from backend.inventory.errors import (
    ConflictError,
    LecsError,
    NotFoundError,
    StateError,
    ValidationError,
)

if TYPE_CHECKING:
    from backend.cloud import Cloud

VERSION = "2014-05-26"
HOST_ID = "ecs.local.lecs"
MAX_BODY = 1 << 20  # a form body larger than 1 MiB is refused (UserData is at most 32 KiB)
# Parameters every request may carry: they never reach a handler's Call.params.
COMMON = frozenset({
    "Action", "Version", "Format", "AccessKeyId", "Signature", "SignatureMethod",
    "SignatureVersion", "SignatureNonce", "SignatureType", "Timestamp", "SecurityToken",
})
MAX_LOGGED = 40  # parameters kept in one call's audit event
ACTION_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")
log = logging.getLogger("lecs.serve")


@dataclass(slots=True)
class Request:
    """What the signature check needs of one HTTP request."""

    method: str
    path: str
    query: dict[str, str]  # the URL's own parameters
    form: dict[str, str]  # a form body's parameters
    headers: Mapping[str, str]
    body: bytes


def _error_body(request_id: str, err: ApiError) -> dict[str, Any]:
    return {
        "RequestId": request_id, "HostId": HOST_ID, "Code": err.code, "Message": err.message,
        "Recommend": f"lecs: see docs/ecs-api.md ({err.code})",
    }


def engine_error(exc: LecsError) -> ApiError:
    """ECS's code for an engine refusal (handlers map the precise ones themselves)."""
    if isinstance(exc, NotFoundError):
        return ApiError("InvalidResource.NotFound", str(exc), 404)
    if isinstance(exc, StateError):
        return ApiError("IncorrectStatus", str(exc), 403)
    if isinstance(exc, ConflictError):
        return ApiError("OperationConflict", str(exc), 409)
    if isinstance(exc, ValidationError):
        return ApiError("InvalidParameter", str(exc), 400)
    return ApiError("OperationFailed", str(exc), 400)


INTERNAL = ApiError("InternalError", "The request processing has failed due to some unknown"
                    " error, exception or failure.", 500)


RESOURCE_PARAMS = ("InstanceId", "DiskId", "SnapshotId", "ImageId", "SecurityGroupId",
                   "KeyPairName", "InstanceIds", "DiskIds", "ResourceId.1", "InstanceName")


def _resource(params: Mapping[str, str]) -> str:
    """The resource an API call's audit event is filed under: the first id it names."""
    return next((params[p][:200] for p in RESOURCE_PARAMS if params.get(p)), "")


def _logged_params(params: Mapping[str, str]) -> dict[str, str]:
    """The parameters an audit event may hold: bounded names and short values, never the
    signature's, never UserData (a script may hold secrets of its own)."""
    kept = [(k[:64], v if len(v) <= 64 else f"<{len(v)} chars>")
            for k, v in sorted(params.items()) if k not in COMMON and k != "UserData"]
    return dict(kept[:MAX_LOGGED])


def _action_name(action: str) -> str:
    """An action as events and the log name it: as asked when it is a plausible name."""
    return action if ACTION_RE.match(action) else "?"


class Api:
    """The ECS API of one inventory: one Cloud, its access keys, its nonces and tokens."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.verifier = Verifier(cloud)
        self.tokens = ClientTokens(cloud.store)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("POST", "/", self.handle)
        app.router.add_route("GET", "/", self.handle)
        app.router.add_route("*", "/{tail:.*}", self.elsewhere)  # ECS's JSON there too
        return app

    async def elsewhere(self, http: web.Request) -> web.Response:
        err = ApiError("InvalidAction.NotFound", "Specified api is not found, please check"
                       " your url and method (lecs answers POST / and GET /).", 404)
        body = _error_body(str(uuid.uuid4()).upper(), err)
        return web.Response(status=err.status, text=json.dumps(body),
                            content_type="application/json")

    async def handle(self, http: web.Request) -> web.Response:
        request_id = str(uuid.uuid4()).upper()
        started = time.perf_counter()
        user, action, params = "", "", {}
        try:
            req = await _read(http)
            params = _once([*req.query.items(), *req.form.items()])
            action = params.get("Action") or req.headers.get("x-acs-action", "")
            key = self.verifier.verify(req, params)
            user = key.name
            body = await self._dispatch(action, params, req, key.key_id, user, request_id)
            status, result = 200, {"RequestId": request_id, **body}
        except ApiError as err:
            status, result = err.status, _error_body(request_id, err)
        except Exception:  # never a traceback to the caller: it is in serve's log
            log.exception("request %s (%s) failed", request_id, _action_name(action))
            status, result = INTERNAL.status, _error_body(request_id, INTERNAL)
        ms = (time.perf_counter() - started) * 1000
        code = result.get("Code", "")
        action = _action_name(action) if action else "-"
        log.info("%s %s %s user=%s %d %s %.1fms", http.remote, request_id, action,
                 user or "-", status, code or "OK", ms)
        self._audit(action, user, params, code, result.get("Message", ""), ms)
        return web.Response(status=status, text=json.dumps(result),
                            content_type="application/json")

    async def _dispatch(self, action: str, params: dict[str, str], req: Request, key_id: str,
                        user: str, request_id: str) -> dict[str, Any]:
        version = params.get("Version") or req.headers.get("x-acs-version", "")
        if not action:
            raise missing_parameter("Action")
        if params.get("Format", "json").lower() != "json":
            raise ApiError("InvalidParameter", f"The specified parameter 'Format'"
                           f" {params['Format']!r} cannot be honoured: lecs answers JSON.")
        if version != VERSION:
            raise ApiError("InvalidVersion", f"Specified parameter Version is not valid"
                           f" (lecs answers {VERSION}).", 400)
        handler = registry.ACTIONS.get(action)
        if handler is None:
            raise ApiError("InvalidAction.NotFound", "Specified api is not found, please check"
                           " your url and method.", 404)
        own = {k: v for k, v in params.items() if k not in COMMON}
        refused = registry.unaccepted(action, own)
        if refused:
            raise ApiError("InvalidParameter", f"The specified parameter {refused[0]!r} is not"
                           f" supported by lecs's {action}.")
        token = own.get("ClientToken", "")
        if token and check_token(token):
            raise ApiError("InvalidParameter", f"The specified parameter 'ClientToken'"
                           f" {check_token(token)}.")
        async with self.tokens.once(key_id, action, own) as slot:
            if slot.body is not None:
                return slot.body
            call = registry.Call(self.cloud, own, user, request_id)
            with audit_mod.acting_as(user):
                try:
                    body = await handler(call)
                except LecsError as exc:
                    raise engine_error(exc) from None
            unread = sorted(set(own) - call.consumed - {"ClientToken"})
            if unread and call.consumed:
                log.warning("%s declared but did not read %s", action, ", ".join(unread))
            self.tokens.remember(slot, body)
            return body

    def _audit(self, action: str, user: str, params: Mapping[str, str], code: str,
               message: str, ms: float) -> None:
        try:
            with audit_mod.acting_as(user or "unauthenticated"):
                self.cloud.audit.record(f"api.{action}", _resource(params),
                                        _logged_params(params), "failure" if code else
                                        "success", f"{code}: {message}"[:300] if code else "", ms)
        except LecsError as exc:  # a read-only inventory: the log line is all there is
            log.warning("audit event not written: %s", exc)


async def _read(http: web.Request) -> Request:
    try:
        body = await http.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError("InvalidParameter", f"The request body is larger than {MAX_BODY}"
                       " bytes.", 413) from None
    form: list[tuple[str, str]] = []
    ctype = http.headers.get("content-type", "")
    if body and ctype.startswith("application/x-www-form-urlencoded"):
        try:
            form = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise ApiError("InvalidParameter", "The request body is not a valid form.") from None
    query = list(http.query.items())
    return Request(http.method, http.path, _once(query), _once(form), http.headers, body)


def _once(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Parameters by name; a name given twice is refused, never resolved by a guess."""
    found: dict[str, str] = {}
    for name, value in pairs:
        if name in found:
            raise ApiError("InvalidParameter", f"The specified parameter {name!r} is given"
                           " more than once.")
        found[name] = value
    return found
