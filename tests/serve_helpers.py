"""A real `lecs serve` subprocess on a free loopback port, an access key, and clients of
Alibaba Cloud's own SDKs pointed at it: for every test of the ECS API.

    with running_serve(home) as srv:          # srv.endpoint "127.0.0.1:PORT", srv.key_id …
        ecs = tea_client(srv)                 # alibabacloud-ecs20140526, ACS3-HMAC-SHA256
        ecs = tea_client(srv, "v2")           # … signature version 1 (HMAC-SHA1)
        acs = core_client(srv)                # aliyun-python-sdk-core (+ aliyun-python-sdk-ecs)
        core_call(acs, srv, DescribeRegionsRequest())
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.api.presence import running
from backend.inventory.paths import Paths


def lecs(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LECS_HOME=str(home))
    result = subprocess.run([sys.executable, "-m", "app.main", *args], capture_output=True,
                            text=True, env=env, stdin=subprocess.DEVNULL, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def make_key(home: Path, name: str = "tester") -> tuple[str, str]:
    made = json.loads(lecs(home, "accesskey", "create", name, "--json").stdout)
    return made["AccessKeyId"], made["AccessKeySecret"]


@dataclass(slots=True)
class Serve:
    home: Path
    proc: subprocess.Popen[str]
    address: str  # http://127.0.0.1:PORT/
    key_id: str
    secret: str
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return self.address.split("//", 1)[1].rstrip("/")

    def log_text(self) -> str:
        return self.log.read_text()


def start_serve(home: Path, *args: str) -> tuple[subprocess.Popen[str], Path]:
    log = home.parent / f"serve-{time.monotonic_ns()}.log"
    env = dict(os.environ, LECS_HOME=str(home))
    with open(log, "w") as fout:
        proc = subprocess.Popen([sys.executable, "-m", "app.main", "serve", "--port", "0", *args],
                                stdin=subprocess.DEVNULL, stdout=fout, stderr=subprocess.STDOUT,
                                env=env, text=True)
    return proc, log


@contextmanager
def running_serve(home: Path, key_name: str = "tester") -> Iterator[Serve]:
    key_id, secret = make_key(home, key_name)
    proc, log = start_serve(home)
    try:
        deadline = time.monotonic() + 60
        info = None
        while info is None or info.pid != proc.pid:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
            info = running(Paths.from_env(str(home)))
        yield Serve(home, proc, info.address, key_id, secret, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def tea_client(srv: Serve, algorithm: str | None = None, secret: str | None = None,
               key_id: str | None = None) -> Any:
    from alibabacloud_ecs20140526.client import Client
    from alibabacloud_tea_openapi import models as open_api

    config = open_api.Config(access_key_id=key_id or srv.key_id,
                             access_key_secret=secret or srv.secret, endpoint=srv.endpoint,
                             protocol="http", region_id="local", signature_algorithm=algorithm)
    return Client(config)


def core_client(srv: Serve, secret: str | None = None, key_id: str | None = None) -> Any:
    from aliyunsdkcore.client import AcsClient

    return AcsClient(key_id or srv.key_id, secret or srv.secret, "local", max_retry_time=0,
                     auto_retry=False)


def core_call(client: Any, srv: Serve, request: Any) -> dict[str, Any]:
    """One request of aliyun-python-sdk-ecs through aliyun-python-sdk-core, to serve."""
    request.set_endpoint(srv.endpoint)
    request.set_protocol_type("http")
    return dict(json.loads(client.do_action_with_exception(request)))
