"""The dispatcher in-process over real HTTP and a real SQLite file: undeclared parameters are
refused before the handler runs, a repeated ClientToken answers the first response (also after
a restart), a handler's engine error becomes ECS's code, and every call is one audit event."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from alibabacloud_tea_openapi import models as open_api
from alibabacloud_tea_openapi.exceptions import ClientException
from darabonba.runtime import RuntimeOptions

from backend import Cloud
from backend.api import registry
from backend.api.registry import Call, action
from backend.api.server import Api
from backend.inventory.errors import StateError
from backend.inventory.paths import Paths

CALLS: list[dict[str, str]] = []

if "LecsTestCount" not in registry.ACTIONS:
    @action("LecsTestCount", params=("ClientToken", "Tag.*", "Name", "RegionId"))
    async def count(call: Call) -> dict[str, Any]:
        call.consumed.update(call.params)
        CALLS.append(dict(call.params))
        call.cloud.audit.record("test.count", call.params.get("Name", ""))  # as the engine does
        if call.params.get("Name") == "busy":
            raise StateError("it is running (allowed: stopped)")
        return {"Count": len(CALLS)}


@pytest.fixture
async def served(home: Path) -> AsyncIterator[tuple[Cloud, str, str, str]]:
    cloud = Cloud(Paths.from_env(str(home)))
    key, secret = cloud.accesskeys.create("dispatch")
    server = TestServer(Api(cloud).app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield cloud, f"127.0.0.1:{server.port}", key.key_id, secret
    finally:
        await server.close()
        cloud.close()


def call(endpoint: str, key_id: str, secret: str, algorithm: str | None = None,
         **query: str) -> dict[str, Any]:
    """One RPC call through the tea SDK's own signing (ACS3-HMAC-SHA256, or v1 with "v2")."""
    from alibabacloud_ecs20140526.client import Client

    client = Client(open_api.Config(access_key_id=key_id, access_key_secret=secret,
                                    endpoint=endpoint, protocol="http", region_id="local",
                                    signature_algorithm=algorithm))
    params = open_api.Params(action="LecsTestCount", version="2014-05-26", protocol="HTTP",
                             pathname="/", method="POST", auth_type="AK", style="RPC",
                             req_body_type="formData", body_type="json")
    result: dict[str, Any] = client.call_api(params, open_api.OpenApiRequest(query=query),
                                             RuntimeOptions())
    return dict(result["body"])


async def test_tokens_params_errors_and_audit(served: tuple[Cloud, str, str, str],
                                              home: Path) -> None:
    cloud, endpoint, key_id, secret = served
    CALLS.clear()
    first = await asyncio.to_thread(call, endpoint, key_id, secret, ClientToken="t-1",
                                    **{"Tag.1.Key": "k"})
    again = await asyncio.to_thread(call, endpoint, key_id, secret, ClientToken="t-1",
                                    **{"Tag.1.Key": "k"})
    assert first.pop("RequestId") != again.pop("RequestId")  # each answer has its own
    assert first == again and first["Count"] == 1 and len(CALLS) == 1
    other = await asyncio.to_thread(call, endpoint, key_id, secret, ClientToken="t-2")
    assert other["Count"] == 2
    with pytest.raises(ClientException) as err:  # the same token for another request
        await asyncio.to_thread(call, endpoint, key_id, secret, ClientToken="t-2", Name="x")
    assert err.value.code == "IdempotentParameterMismatch" and len(CALLS) == 2

    with pytest.raises(ClientException) as err:  # refused before the handler: no effect
        await asyncio.to_thread(call, endpoint, key_id, secret, Frobnicate="1")
    assert err.value.code == "InvalidParameter" and "Frobnicate" in err.value.message
    assert len(CALLS) == 2

    with pytest.raises(ClientException) as err:
        await asyncio.to_thread(call, endpoint, key_id, secret, Name="busy")
    assert err.value.code == "IncorrectStatus" and "allowed: stopped" in err.value.message

    api = [e for e in cloud.audit.list(limit=20) if e.action == "api.LecsTestCount"]
    assert len(api) == 6 and {e.user for e in api} == {"dispatch"}
    engine = [e for e in cloud.audit.list(limit=50) if e.action == "test.count"]
    assert len(engine) == 3 and {e.user for e in engine} == {"dispatch"}  # the key's name
    cloud.audit.record("test.cli", "")  # outside a call: the process's user, as before
    assert cloud.audit.list(limit=1)[0].user == cloud.audit.process_user != "dispatch"
    assert [e.result for e in api].count("failure") == 3

    # a restart (a new process: a new Cloud and Api over the same inventory) keeps the token
    reopened = Cloud(Paths.from_env(str(home)))
    server = TestServer(Api(reopened).app(), host="127.0.0.1")
    await server.start_server()
    try:
        later = await asyncio.to_thread(call, f"127.0.0.1:{server.port}", key_id, secret,
                                        ClientToken="t-1", **{"Tag.1.Key": "k"})
    finally:
        await server.close()
        reopened.close()
    later.pop("RequestId")
    assert later == first and len(CALLS) == 3  # the refused Name=busy call ran; t-1 did not


@pytest.mark.parametrize("algorithm", [None, "v2"])
async def test_values_that_need_encoding_verify(served: tuple[Cloud, str, str, str],
                                                algorithm: str | None) -> None:
    _cloud, endpoint, key_id, secret = served
    CALLS.clear()
    odd = "a b+c*d~e/f&g=h%i 日本"
    await asyncio.to_thread(call, endpoint, key_id, secret, algorithm, Name=odd,
                            **{"Tag.1.Value": "x y"})
    assert CALLS == [{"Name": odd, "Tag.1.Value": "x y"}]


async def test_core_sdk_common_request_with_odd_values(
        served: tuple[Cloud, str, str, str]) -> None:
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.request import CommonRequest

    _cloud, endpoint, key_id, secret = served
    CALLS.clear()
    odd = "a b+c*d~e/f&g=h%i 日本"

    def send(method: str) -> dict[str, Any]:
        request = CommonRequest(domain=endpoint, version="2014-05-26",
                                action_name="LecsTestCount")
        request.set_protocol_type("http")
        request.set_method(method)
        request.add_query_param("Name", odd)
        client = AcsClient(key_id, secret, "local", auto_retry=False, max_retry_time=0)
        return dict(json.loads(client.do_action_with_exception(request)))

    for method in ("GET", "POST"):
        await asyncio.to_thread(send, method)
    assert [c["Name"] for c in CALLS] == [odd, odd]  # signed and read back exactly
