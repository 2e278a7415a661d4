"""Who may call `lecs serve`: replayed nonces, stale timestamps, disabled and deleted keys,
each refused with ECS's Code through the SDKs' own exceptions; nonces survive a restart."""

from __future__ import annotations

import json
import os
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from alibabacloud_ecs20140526 import models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils import Utils
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.composer import rpc_signature_composer
from aliyunsdkcore.utils import parameter_helper
from aliyunsdkecs.request.v20140526.DescribeRegionsRequest import DescribeRegionsRequest

from tests.serve_helpers import (
    Serve,
    core_call,
    core_client,
    lecs,
    make_key,
    running_serve,
    tea_client,
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    home = tmp_path_factory.mktemp("serve-auth") / "home"
    with running_serve(home) as serve:
        yield serve


def raw_v1(srv: Serve, nonce: str) -> tuple[int, dict[str, str]]:
    """DescribeRegions signed by aliyun-python-sdk-core's own composer, with a chosen nonce."""
    params = {"Action": "DescribeRegions", "Version": "2014-05-26"}
    saved = parameter_helper.get_uuid
    parameter_helper.get_uuid = lambda: nonce
    try:
        url, _ = rpc_signature_composer.get_signed_url(params, srv.key_id, srv.secret, "JSON",
                                                       "GET", {})
    finally:
        parameter_helper.get_uuid = saved
    try:
        with urllib.request.urlopen(f"http://{srv.endpoint}{url}", timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_a_replayed_nonce_is_refused(srv: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    status, first = raw_v1(srv, "nonce-replay-1")
    assert status == 200 and first["Regions"]["Region"][0]["RegionId"] == "local"
    status, again = raw_v1(srv, "nonce-replay-1")
    assert (status, again["Code"]) == (400, "SignatureNonceUsed")
    assert again["RequestId"] and again["HostId"] and again["Recommend"]
    # the SDK's default signature, with its nonce pinned: its own exception, ECS's Code
    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: "nonce-replay-2"))
    ecs = tea_client(srv)
    ecs.describe_regions(models.DescribeRegionsRequest())
    with pytest.raises(ClientException) as err:
        ecs.describe_regions(models.DescribeRegionsRequest())
    assert err.value.code == "SignatureNonceUsed"


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_an_expired_timestamp_is_refused(srv: Serve, monkeypatch: pytest.MonkeyPatch,
                                         algorithm: str | None) -> None:
    monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: "2020-01-01T00:00:00Z"))
    with pytest.raises(ClientException) as err:
        tea_client(srv, algorithm).describe_regions(models.DescribeRegionsRequest())
    assert err.value.code == "InvalidTimeStamp.Expired"


def test_core_sdk_expired_timestamp(srv: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parameter_helper, "get_iso_8061_date", lambda: "2020-01-01T00:00:00Z")
    with pytest.raises(ServerException) as err:
        core_call(core_client(srv), srv, DescribeRegionsRequest())
    assert err.value.get_error_code() == "InvalidTimeStamp.Expired"


def test_disabled_then_deleted_key(srv: Serve) -> None:
    key_id, secret = make_key(srv.home, "temp")
    ecs = tea_client(srv, key_id=key_id, secret=secret)
    assert ecs.describe_regions(models.DescribeRegionsRequest()).body.request_id
    lecs(srv.home, "accesskey", "disable", "temp")
    with pytest.raises(ClientException) as err:
        ecs.describe_regions(models.DescribeRegionsRequest())
    assert err.value.code == "InvalidAccessKeyId.Inactive"
    with pytest.raises(ServerException) as core_err:
        core_call(core_client(srv, key_id=key_id, secret=secret), srv, DescribeRegionsRequest())
    assert core_err.value.get_error_code() == "InvalidAccessKeyId.Inactive"
    refused = lecs(srv.home, "accesskey", "delete", "temp", check=False)
    assert refused.returncode != 0 and "without --yes" in refused.stderr
    lecs(srv.home, "accesskey", "delete", "temp", "--yes")
    with pytest.raises(ClientException) as err:
        ecs.describe_regions(models.DescribeRegionsRequest())
    assert err.value.code == "InvalidAccessKeyId.NotFound"


def test_calls_are_audited_as_the_key_and_secrets_stay_out(srv: Serve) -> None:
    tea_client(srv).describe_regions(models.DescribeRegionsRequest())
    events = json.loads(lecs(srv.home, "event", "list", "--json").stdout)
    api = [e for e in events if e["action"] == "api.DescribeRegions"]
    assert api and api[0]["user"] == "tester" and api[0]["result"] == "success"
    created = next(e for e in events if e["action"] == "accesskey.create")
    assert created["user"] == os.environ.get("USER", created["user"])  # the CLI's own user
    assert created["user"] != "tester"
    secret_file = srv.home / "accesskeys" / f"{srv.key_id}.secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret_file.parent.stat().st_mode) == 0o700
    for where in (srv.home / "lecs.db", srv.home / "lecs.db-wal", srv.log):
        if where.exists():
            assert srv.secret.encode() not in where.read_bytes(), where
    listed = lecs(srv.home, "accesskey", "list").stdout
    assert srv.key_id in listed and srv.secret not in listed


def test_second_serve_and_open_address_are_refused(srv: Serve) -> None:
    second = lecs(srv.home, "serve", "--port", "0", check=False)
    assert second.returncode == 1
    assert f"pid {srv.proc.pid}" in second.stderr and srv.address in second.stderr
    port = srv.endpoint.rsplit(":", 1)[1]  # another inventory, the same port: one line
    taken = lecs(srv.home.parent / "other", "serve", "--port", port, check=False)
    assert taken.returncode == 1 and taken.stderr.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in taken.stderr
    wide = lecs(srv.home, "serve", "--host", "0.0.0.0", "--port", "0", check=False)
    assert wide.returncode == 2 and "without TLS" in wide.stderr
    assert "Traceback" not in second.stderr + wide.stderr


def test_nonces_survive_a_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running_serve(home) as first:
        assert raw_v1(first, "nonce-restart")[0] == 200
    key = (first.key_id, first.secret)
    with running_serve(home, key_name="second") as again:
        again.key_id, again.secret = key
        status, body = raw_v1(again, "nonce-restart")
        assert (status, body["Code"]) == (400, "SignatureNonceUsed")


def test_garbage_signatures_are_ecs_errors(srv: Serve) -> None:
    """Whatever a request carries, the answer is ECS's error JSON, never InternalError."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    base = {"Action": "DescribeRegions", "Version": "2014-05-26", "AccessKeyId": srv.key_id,
            "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "Timestamp": stamp}
    cases = [
        ({**base, "SignatureNonce": "n-1", "Signature": "é日本"}, {}, "SignatureDoesNotMatch"),
        ({**base, "SignatureNonce": "n-2"}, {}, "IncompleteSignature"),
        ({**base, "SignatureNonce": "n-3", "SignatureMethod": "HMAC-MD5", "Signature": "x"}, {},
         "IncompleteSignature"),
        ({**base, "SignatureNonce": "n-4", "Timestamp": "yesterday", "Signature": "x"}, {},
         "SignatureDoesNotMatch"),
        ({"Action": "DescribeRegions"}, {"Authorization": "ACS3-HMAC-SHA256 nonsense"},
         "IncompleteSignature"),
        ({"Action": "DescribeRegions"}, {"Authorization": "ACS3-HMAC-SHA256 Credential=x,"
                                         "SignedHeaders=host,Signature=00"},
         "IncompleteSignature"),
        ({}, {}, "IncompleteSignature"),
    ]
    for query, headers, code in cases:
        url = f"http://{srv.endpoint}/?{urllib.parse.urlencode(query)}"
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30)
            raise AssertionError(f"{query} {headers} was answered")
        except urllib.error.HTTPError as err:
            body = json.loads(err.read())
        assert body["Code"] == code, (query, headers, body)
