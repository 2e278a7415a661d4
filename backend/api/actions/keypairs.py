"""Key pairs: CreateKeyPair (the private key returned once), ImportKeyPair, DescribeKeyPairs,
DeleteKeyPairs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from backend.api import shapes
from backend.api.errors import invalid_parameter, missing_parameter
from backend.api.params import Params
from backend.api.registry import Call, action
from backend.api.translate import engine

# One line of OpenSSH public key text: never a path (the engine also reads key files).
KEY_TEXT = re.compile(r"(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) "
                      r"[A-Za-z0-9+/]+={0,3}( [^\n\r]*)?")


@action("CreateKeyPair", params=("RegionId", "KeyPairName", "ResourceGroupId", "Tag.*.Key",
                                 "Tag.*.Value"))
async def create_key_pair(call: Call) -> dict[str, Any]:
    p = Params(call)
    p.region()
    name = p.need("KeyPairName", max_len=128)
    p.only("ResourceGroupId", "")
    if p.tags():
        raise invalid_parameter("Tag.1.Key", "cannot be honoured: lecs tags instances only")
    p.done()
    with engine("key pair"):
        pair = await call.cloud.keypairs.create(name, "rsa")
    private = Path(pair.private_key_path).read_text() if pair.private_key_path else ""
    return {"KeyPairId": pair.name, "KeyPairName": pair.name,
            "KeyPairFingerPrint": pair.fingerprint, "PrivateKeyBody": private}


@action("ImportKeyPair", params=("RegionId", "KeyPairName", "PublicKeyBody",
                                 "ResourceGroupId", "Tag.*.Key", "Tag.*.Value"))
async def import_key_pair(call: Call) -> dict[str, Any]:
    p = Params(call)
    p.region()
    name = p.need("KeyPairName", max_len=128)
    body = p.need("PublicKeyBody", max_len=16384).strip()
    p.only("ResourceGroupId", "")
    if p.tags():
        raise invalid_parameter("Tag.1.Key", "cannot be honoured: lecs tags instances only")
    if not KEY_TEXT.fullmatch(body):
        raise invalid_parameter("PublicKeyBody", "must be one OpenSSH public key line"
                                " (type, base64 and an optional comment)")
    p.done()
    with engine("key pair"):  # a newline: the engine takes it as key text, never a path
        pair = call.cloud.keypairs.import_key(name, body + "\n")
    return {"KeyPairName": pair.name, "KeyPairFingerPrint": pair.fingerprint,
            "KeyPairId": pair.name}


@action("DescribeKeyPairs", params=("RegionId", "KeyPairName", "KeyPairFingerPrint",
                                    "PageNumber", "PageSize", "NextToken", "MaxResults"))
async def describe_key_pairs(call: Call) -> dict[str, Any]:
    p = Params(call)
    p.region()
    name, print_ = p.text("KeyPairName"), p.text("KeyPairFingerPrint")
    chosen = [k for k in call.cloud.keypairs.list()
              if (not name or k.name == name) and (not print_ or k.fingerprint == print_)]
    items, paging = shapes.page(p, chosen, size=10, most=50)
    p.done()
    return {**paging, "KeyPairs": {"KeyPair": [shapes.keypair(k) for k in items]}}


@action("DeleteKeyPairs", params=("RegionId", "KeyPairNames"))
async def delete_key_pairs(call: Call) -> dict[str, Any]:
    p = Params(call)
    p.region()
    names = p.json_list("KeyPairNames")
    if not names:
        raise missing_parameter("KeyPairNames")
    p.done()
    with engine("key pair"):
        for name in names:  # all found first: none deleted if one is missing
            call.cloud.keypairs.get(name)
        for name in names:
            call.cloud.keypairs.delete(name)
    return {}
