"""Bridge mode on real QEMU, inside a network namespace the test makes (root only).

Two instances on one bridge reach each other's port 80 exactly as their groups say; a deny
with a higher priority wins, live; teardown and reconcile leave no bridge, tap or table.
The compiled firewall is also checked without QEMU, on veth "instances" in namespaces: the
reply of an allowed connection passes (stateful), IPv6 and a forged source do not, and the
br_netfilter switch that routes bridged traffic through the firewall is kept on.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from backend import Cloud
from backend.drivers.qemu import bridge
from backend.network import nft
from backend.network.records import Action, Direction, Protocol, Rule
from backend.network.rules import RuleInput
from tests.qemu_probe import serial_run

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(os.geteuid() != 0, reason="bridge mode needs root"),
    pytest.mark.skipif(not all(shutil.which(t) for t in ("ip", "nft", "dnsmasq")),
                       reason="bridge mode needs iproute2, nftables and dnsmasq-base"),
]


@pytest.fixture
def netns() -> Iterator[str]:
    name = "lecs-test-" + secrets.token_hex(3)
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _links(ns: str) -> list[str]:
    out = subprocess.run(["ip", "-n", ns, "-j", "link", "show"], capture_output=True,
                         text=True, check=True).stdout
    return [link["ifname"] for link in json.loads(out)]


def _tables(ns: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "exec", ns, "nft", "-j", "list", "tables"],
                         capture_output=True, text=True, check=True).stdout
    return [i["table"]["name"] for i in json.loads(out)["nftables"] if "table" in i]


async def _fetch(rundir: str, ip: str) -> str:
    out = await serial_run(rundir, f"timeout 3 wget -q -O - http://{ip}/ >/tmp/f;"
                                   " echo fetch-rc$((0))=$?=end$((0))", "=end0", timeout=20)
    return out.rsplit("fetch-rc0=", 1)[1].split("=", 1)[0]


async def test_setup_and_teardown_leave_nothing_behind(cloud: Cloud, netns: str) -> None:
    net = cloud.networks.create("lan", "10.77.0.0/24", netns=netns)
    inst = await cloud.instances.create("solo", "tiny", "t1.micro", network="lan")
    assert inst.ip == "10.77.0.10" and inst.forwards == []
    await cloud.instances.wait_ready(inst.id, 120)
    nic = cloud.store.row("SELECT tap FROM nics WHERE instance_id = ?", [inst.id])
    assert nic is not None
    tap = nic["tap"]
    assert {net.bridge, tap} <= set(_links(netns))
    assert "lecs_" + net.bridge.replace("-", "_") in _tables(netns)
    leases = (cloud.paths.runtime / "net" / net.id / "dhcp-hosts").read_text()
    assert inst.ip in leases
    await cloud.instances.stop("solo")
    assert tap not in _links(netns)  # QEMU's tap goes with QEMU
    await cloud.instances.delete("solo")
    cloud.networks.delete("lan")
    assert not [n for n in _links(netns) if n.startswith(("lbr-", "ltp-"))]
    assert not [t for t in _tables(netns) if t.startswith("lecs_")]
    assert not (cloud.paths.runtime / "net" / net.id).exists()


async def test_groups_decide_who_reaches_whom_on_a_bridge(cloud: Cloud, netns: str) -> None:
    net = cloud.networks.create("lan", "10.77.0.0/24", netns=netns)
    assert net.bridge in _links(netns)
    cloud.sgs.create("srv")
    cloud.sgs.create("cli")
    await cloud.sgs.rule_add("srv", RuleInput(ports="80", cidr="10.77.0.0/24", priority=10))
    a = await cloud.instances.create("a", "tiny", "t1.micro", sgs=["srv"], network="lan")
    b = await cloud.instances.create("b", "tiny", "t1.micro", sgs=["cli"], network="lan")
    assert a.network == "lan" and a.ip.startswith("10.77.0.") and a.forwards == []
    await asyncio.gather(cloud.instances.wait_ready(a.id, 120),
                         cloud.instances.wait_ready(b.id, 120))
    assert await _fetch(b.runtime_dir, a.ip) == "0"  # srv admits the subnet on 80
    assert await _fetch(a.runtime_dir, b.ip) != "0"  # cli admits nothing

    deny = await cloud.sgs.rule_add("srv", RuleInput(ports="80", action="deny", priority=1,
                                                     remote_group="cli"))
    assert await _fetch(b.runtime_dir, a.ip) != "0"  # the higher-priority deny wins, live
    await cloud.sgs.rule_delete("srv", deny.id)
    assert await _fetch(b.runtime_dir, a.ip) == "0"

    # a CIDR user mode refuses is fine here: bridge mode enforces the full model
    await cloud.sgs.rule_add("cli", RuleInput(ports="80", cidr="10.77.0.0/28", priority=5))
    assert await _fetch(a.runtime_dir, b.ip) == "0"

    await cloud.instances.delete("a")
    await cloud.instances.delete("b")
    cloud.networks.delete("lan")
    assert not [n for n in _links(netns) if n.startswith(("lbr-", "ltp-"))]
    assert not [t for t in _tables(netns) if t.startswith("lecs_")]
    assert not (cloud.paths.runtime / "net" / net.id).exists()


def test_reconcile_removes_what_a_crash_left_behind(cloud: Cloud, netns: str) -> None:
    subprocess.run(["ip", "-n", netns, "link", "add", "lbr-stray", "type", "bridge"],
                   check=True)
    subprocess.run(["ip", "-n", netns, "tuntap", "add", "dev", "ltp-stray", "mode", "tap"],
                   check=True)
    for family in ("inet", "bridge"):
        subprocess.run(["ip", "netns", "exec", netns, "nft", "add", "table", family,
                        "lecs_lbr_stray"], check=True)
    removed = cloud.networks.reconcile([netns])
    assert len(removed) == 4
    assert not [n for n in _links(netns) if n.startswith(("lbr-", "ltp-"))]
    assert _tables(netns) == []


# ---- the compiled firewall on veth "instances" (real kernel and nft, no QEMU) ----------

SERVE = ("import http.server, socket, sys\n"
         "class S(http.server.HTTPServer):\n"
         "    address_family = socket.AF_INET6\n"
         "    def server_bind(self):\n"
         "        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\n"
         "        super().server_bind()\n"
         "S(('::', 80), http.server.BaseHTTPRequestHandler).serve_forever()\n")

CONNECT = ("import socket, sys\n"
           "family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
           "s = socket.socket(family)\n"
           "s.settimeout(1.5)\n"
           "if len(sys.argv) > 2: s.bind((sys.argv[2], 0))\n"
           "target = (sys.argv[1], 80, 0, socket.if_nametoindex('eth0'))"
           " if family == socket.AF_INET6 else (sys.argv[1], 80)\n"
           "try:\n"
           "    s.connect(target)\n"
           "    print('open')\n"
           "except OSError:\n"
           "    print('closed')\n")


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def _reaches(ns: str, target: str, source: str = "") -> bool:
    argv = ["ip", "netns", "exec", ns, sys.executable, "-c", CONNECT, target]
    out = subprocess.run(argv + ([source] if source else []), capture_output=True, text=True,
                         check=True, timeout=10).stdout
    return out.strip() == "open"


@pytest.fixture
def veth_lan(netns: str) -> Iterator[dict[str, str]]:
    """`netns` holds bridge lbr-t; two namespaces hang off it like instances, serving :80."""
    spaces = {name: f"{netns}-{name}" for name in ("a", "b")}
    servers: list[subprocess.Popen[bytes]] = []
    _sh("ip", "-n", netns, "link", "add", "lbr-t", "type", "bridge")
    _sh("ip", "-n", netns, "addr", "add", "10.78.0.1/24", "dev", "lbr-t")
    _sh("ip", "-n", netns, "link", "set", "lbr-t", "up")
    try:
        for n, (name, space) in enumerate(spaces.items(), start=10):
            _sh("ip", "netns", "add", space)
            _sh("ip", "-n", netns, "link", "add", f"ltp-t{name}", "type", "veth", "peer",
                "name", "eth0", "netns", space)
            _sh("ip", "-n", netns, "link", "set", f"ltp-t{name}", "master", "lbr-t", "up")
            _sh("ip", "-n", space, "link", "set", "eth0", "address", f"52:54:00:00:78:{n}")
            _sh("ip", "-n", space, "addr", "add", f"10.78.0.{n}/24", "dev", "eth0")
            _sh("ip", "-n", space, "link", "set", "eth0", "up")
            _sh("ip", "-n", space, "link", "set", "lo", "up")
            servers.append(subprocess.Popen(
                ["ip", "netns", "exec", space, sys.executable, "-c", SERVE],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)  # the servers bind; IPv6 link-local addresses settle (DAD)
        yield spaces
    finally:
        for server in servers:
            server.kill()
            server.wait()
        for space in spaces.values():
            subprocess.run(["ip", "netns", "del", space], check=False)


def _rule(group: str, action: Action = Action.ALLOW, cidr: str = "10.78.0.0/24",
          priority: int = 10, direction: Direction = Direction.INGRESS,
          protocol: Protocol = Protocol.TCP) -> Rule:
    ports = 80 if protocol is Protocol.TCP else 0
    return Rule(f"r-{group}-{direction.value}-{priority}", group, direction, protocol,
                ports, ports, cidr, action, priority)


def test_firewall_is_stateful_and_guards_layer2(netns: str, veth_lan: dict[str, str]) -> None:
    a, b = veth_lan["a"], veth_lan["b"]
    assert _reaches(b, "10.78.0.10") and _reaches(a, "10.78.0.11")  # no firewall yet
    egress = _rule("g", cidr="0.0.0.0/0", priority=100, direction=Direction.EGRESS,
                   protocol=Protocol.ALL)
    ports = [nft.Port("ltp-ta", "10.78.0.10", "52:54:00:00:78:10", (_rule("srv"), egress)),
             nft.Port("ltp-tb", "10.78.0.11", "52:54:00:00:78:11", (egress,))]
    groups = {"srv": ["10.78.0.10"], "cli": ["10.78.0.11"]}
    subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-qw",
                    f"{bridge.BRIDGE_NF}=0"], check=True)
    bridge.ensure_bridge_netfilter(netns)  # off would bypass the inet table: it is put back
    bridge.nft(netns, nft.compile_table("lbr-t", ports, groups))
    assert _reaches(b, "10.78.0.10")  # allowed, and the SYN-ACK passes as established
    assert not _reaches(a, "10.78.0.11")  # b admits nothing
    # IPv6 is outside the rule model: dropped at layer 2, not let through unfiltered
    assert not _reaches(b, "fe80::5054:ff:fe00:7810")
    _sh("ip", "-n", b, "addr", "add", "10.78.0.99/24", "dev", "eth0")
    assert not _reaches(b, "10.78.0.10", source="10.78.0.99")  # a forged source is dropped
    srv_deny = _rule("srv", Action.DENY, cidr="10.78.0.11/32", priority=1)
    ports[0] = nft.Port("ltp-ta", "10.78.0.10", "52:54:00:00:78:10",
                        (srv_deny, _rule("srv"), egress))
    bridge.nft(netns, nft.compile_table("lbr-t", ports, groups))
    assert not _reaches(b, "10.78.0.10")  # the higher-priority deny wins
    bridge.nft(netns, nft.delete_table("lbr-t"))
    assert not [t for t in _tables(netns) if t.startswith("lecs_")]
    assert _reaches(a, "10.78.0.11")  # and with the tables gone, nothing is left filtering
