"""User-mode security groups on real QEMU: forwards follow the rules live; egress deny holds."""

from __future__ import annotations

import threading
import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backend import Cloud
from backend.inventory.errors import ConflictError
from backend.network.rules import RuleInput
from backend.network.usermode import NotEnforceable
from tests.qemu_probe import http_get, serial_run

pytestmark = pytest.mark.qemu


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"hello from the host\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def host_server() -> Iterator[int]:
    """An HTTP server on the host's loopback; the guest sees it as 10.0.2.2:PORT."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _refused(port: int | None) -> bool:
    if port is None:
        return True
    try:
        http_get(port, timeout=3)
    except (urllib.error.URLError, ConnectionError, OSError):
        return True
    return False


async def _guest_fetch(rundir: str, port: int) -> str:
    # $((0)) keeps the marker out of the echoed command line
    out = await serial_run(rundir, f"timeout 5 wget -q -O - http://10.0.2.2:{port}/ >/tmp/f;"
                                   " echo fetch-rc$((0))=$?=end$((0))", "=end0", timeout=20)
    return out.rsplit("fetch-rc0=", 1)[1].split("=", 1)[0]


async def test_http_reachable_only_while_an_allow_rule_exists(
    cloud: Cloud, host_server: int
) -> None:
    cloud.sgs.create("web")
    inst = await cloud.instances.create("web1", "tiny", "t1.micro", sgs=["web"])
    assert inst.forwards == [] and inst.security_groups == ["web"]
    await cloud.instances.wait_ready(inst.id, timeout=90)

    allow = await cloud.sgs.rule_add("web", RuleInput(ports="80", cidr="127.0.0.1/32",
                                                      priority=10))
    port = cloud.instances.get("web1").port_for(80)
    assert port is not None and "lecs tiny guest" in http_get(port)

    deny = await cloud.sgs.rule_add("web", RuleInput(ports="80", action="deny", priority=1))
    assert cloud.instances.get("web1").port_for(80) is None
    assert _refused(port)
    await cloud.sgs.rule_delete("web", deny.id)
    port = cloud.instances.get("web1").port_for(80)
    assert port is not None and "lecs tiny guest" in http_get(port)

    await cloud.sgs.rule_delete("web", allow.id)  # closes it on the running instance
    assert cloud.instances.get("web1").forwards == []
    assert _refused(port)

    wide = await cloud.sgs.rule_add("web", RuleInput(ports="80", cidr="0.0.0.0/0"))
    fwd = cloud.instances.get("web1").forwards
    assert [(f.host_addr, f.guest_port) for f in fwd] == [("0.0.0.0", 80)]
    assert "lecs tiny guest" in http_get(fwd[0].host_port)
    await cloud.sgs.rule_delete("web", wide.id)

    # egress is allowed by the new group's rule, but that is the outside world: slirp's
    # 10.0.2.2 no longer leads to the host's loopback (issue #12, test_network_sealing.py)
    assert await _guest_fetch(inst.runtime_dir, host_server) != "0"

    # refused, and nothing stored: a CIDR user mode cannot enforce, a live egress flip,
    # leaving an instance without a group
    rules_before = cloud.store.db["sg_rules"].count
    with pytest.raises(NotEnforceable, match="instance 'web1': user-mode networking cannot"
                                             ".*10.1.0.0/16.*bridge mode"):
        await cloud.sgs.rule_add("web", RuleInput(ports="80", cidr="10.1.0.0/16"))
    with pytest.raises(NotEnforceable, match="cannot deny egress of running instance 'web1'"):
        await cloud.sgs.rule_add("web", RuleInput(direction="egress", protocol="all",
                                                  action="deny", priority=1))
    assert cloud.store.db["sg_rules"].count == rules_before
    with pytest.raises(ConflictError, match="at least one security group"):
        await cloud.sgs.detach("web1", "web")

    # attaching `default` opens its forwards (22, 80 on loopback) live
    await cloud.sgs.attach("web1", "default")
    after = cloud.instances.get("web1")
    assert after.security_groups == ["web", "default"]
    assert sorted(f.guest_port for f in after.forwards) == [22, 80]
    assert "lecs tiny guest" in http_get(after.port_for(80) or 0)
    await cloud.sgs.detach("web1", "default")
    assert _refused(after.port_for(80))
    actions = {e.action for e in cloud.audit.list(limit=50)}
    assert {"sg.create", "sg.rule-add", "sg.rule-delete", "sg.attach", "sg.detach"} <= actions


async def test_egress_deny_stops_the_guest_reaching_the_host(
    cloud: Cloud, host_server: int
) -> None:
    cloud.sgs.create("closed")
    await cloud.sgs.rule_add("closed", RuleInput(direction="egress", protocol="all",
                                                 action="deny", priority=1))
    await cloud.sgs.rule_add("closed", RuleInput(ports="80", cidr="127.0.0.1/32"))
    inst = await cloud.instances.create("shut", "tiny", "t1.micro", sgs=["closed"])
    assert inst.egress_restricted
    await cloud.instances.wait_ready(inst.id, timeout=90)
    assert await _guest_fetch(inst.runtime_dir, host_server) != "0"
    # ingress forwards still work under restrict=on
    assert "lecs tiny guest" in http_get(inst.port_for(80) or 0)

    # stopped, the egress rule may change; the next start enforces it
    await cloud.instances.force_stop("shut")
    deny = next(r for r in cloud.sgs.get("closed").rules if r.action.value == "deny")
    await cloud.sgs.rule_delete("closed", deny.id)
    started = await cloud.instances.start("shut", wait=True, timeout=90)
    assert not started.egress_restricted
    assert "egress through passt" in cloud.sgs.egress_status("shut")


async def test_create_refuses_groups_the_mode_cannot_enforce(cloud: Cloud) -> None:
    cloud.sgs.create("lan")
    await cloud.sgs.rule_add("lan", RuleInput(ports="80", cidr="192.168.0.0/16"))  # no members
    with pytest.raises(NotEnforceable, match="instance 'x': user-mode networking cannot"):
        await cloud.instances.create("x", "tiny", "t1.nano", sgs=["lan"], start=False)
    assert cloud.store.db["instances"].count == 0
    await cloud.instances.create("y", "tiny", "t1.nano", start=False)
    with pytest.raises(NotEnforceable, match="instance 'y'"):
        await cloud.sgs.attach("y", "lan")
    assert cloud.instances.get("y").security_groups == ["default"]
