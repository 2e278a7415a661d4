"""`lecs accesskey create|list|disable|delete`: the keys `lecs serve` checks signatures with."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app import render
from app.cli.output import confirm, destructive, noun, out, verb
from backend import Cloud

if TYPE_CHECKING:
    from backend.ram.accesskeys import AccessKey


def _row(key: AccessKey) -> dict[str, Any]:
    return {"AccessKeyId": key.key_id, "name": key.name, "state": key.state.value,
            "created": key.created}


async def create(cloud: Cloud, args: argparse.Namespace) -> None:
    key, secret = cloud.accesskeys.create(args.name)
    value = {"AccessKeyId": key.key_id, "AccessKeySecret": secret, "name": key.name}
    out(args, value, lambda: f"AccessKeyId:     {key.key_id}\nAccessKeySecret: {secret}\n"
        "(the secret is shown this once: keep it now)")


async def list_keys(cloud: Cloud, args: argparse.Namespace) -> None:
    keys = cloud.accesskeys.list()
    rows = [_row(k) for k in keys]
    out(args, rows, lambda: render.table(
        ["NAME", "ACCESSKEYID", "STATE", "CREATED"],
        [[k.name, k.key_id, k.state.value, render.when(k.created)] for k in keys]))


async def disable(cloud: Cloud, args: argparse.Namespace) -> None:
    key = cloud.accesskeys.disable(args.name)
    out(args, _row(key), lambda: f"access key {key.name} ({key.key_id}) disabled")


async def delete(cloud: Cloud, args: argparse.Namespace) -> None:
    key = cloud.accesskeys.get(args.name)
    confirm(args, f"delete access key {key.name} ({key.key_id})")
    cloud.accesskeys.delete(key.key_id)
    out(args, _row(key), lambda: f"access key {key.name} ({key.key_id}) deleted")


def register(nouns: Any) -> None:
    n = noun(nouns, "accesskey", "API access keys for lecs serve")
    verb(n, "create", create, "make a key; prints its secret once").add_argument("name")
    verb(n, "list", list_keys, "list keys (never their secrets)")
    verb(n, "disable", disable, "refuse a key's requests from now on").add_argument("name")
    destructive(verb(n, "delete", delete, "delete a key")).add_argument("name")
