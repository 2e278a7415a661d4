"""Issue #12: a user-mode guest reaches the host's loopback and other instances' forwards only
through a rule that names them (slirp restrict=on for the forwards, passt --no-map-gw for
egress), on real QEMU with the tiny guest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from backend import Cloud
from backend.drivers.qemu import bridge
from backend.network import nft
from backend.network.records import Direction, Protocol, Rule
from backend.network.rules import RuleInput
from backend.network.usermode import NotEnforceable
from tests.qemu_probe import serial_run
from tests.test_network_bridge import SERVE, netns, veth_lan  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.qemu,
              pytest.mark.skipif(shutil.which("passt") is None, reason="apt-get install passt")]
CANARY = "lecs-canary-on-the-host"


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[int]:
    """An HTTP service on the host's loopback only, serving CANARY."""
    (tmp_path / "index.html").write_text(CANARY + "\n")
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield int(server.server_address[1])
        server.shutdown()


async def _reaches(rundir: str, port: int, needle: str) -> set[str]:
    """Which ways to the host's port worked from the guest: slirp's 10.0.2.2 (the old hole)
    and the default gateway (passt's, which maps to the host only when a rule names it)."""
    script = ("gw=$(ip route | awk '/^default/{print $3}'); for h in 10.0.2.2 $gw; do"
              " printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 3 nc $h " + str(port)
              + f" | grep -q '{needle}' && echo HIT$((0))=$h=; done; echo DONE$((0))")
    out = await serial_run(rundir, script, "DONE0", timeout=30)
    return {part.split("=", 1)[0] for part in out.split("HIT0=")[1:]}


async def test_default_group_is_sealed_and_a_rule_that_names_the_host_opens_it(
    cloud: Cloud, canary: int
) -> None:
    cloud.sgs.create("host-access")  # a new group: egress to 0.0.0.0/0 allowed, no ingress
    await cloud.sgs.rule_add("host-access", RuleInput(direction="egress", protocol="all",
                                                      cidr="127.0.0.1/32", priority=10))
    await cloud.sgs.rule_add("host-access", RuleInput(ports="80", cidr="127.0.0.1/32"))
    plain = await cloud.instances.create("plain", "tiny", "t1.micro")  # `default`
    await cloud.instances.wait_ready(plain.id, timeout=90)
    # egress allowed by `default`, yet not the host's loopback (on main: via 10.0.2.2)
    assert await _reaches(plain.runtime_dir, canary, CANARY) == set()
    named = await cloud.instances.create("named", "tiny", "t1.micro", sgs=["host-access"])
    await cloud.instances.wait_ready(named.id, timeout=90)
    plain_fwd, named_fwd = plain.port_for(80), named.port_for(80)
    assert plain_fwd and named_fwd
    # nor another instance's "from this host" forward
    assert await _reaches(plain.runtime_dir, named_fwd, "lecs tiny guest") == set()
    # the rule that names the host's loopback opens both, through passt's gateway only
    assert len(await _reaches(named.runtime_dir, canary, CANARY)) == 1
    assert len(await _reaches(named.runtime_dir, plain_fwd, "lecs tiny guest")) == 1

    shown = cloud.instances.get("plain")
    assert "host loopback sealed" in cloud.sgs.egress_status(shown.id)
    assert "reachable" in cloud.sgs.egress_status(named.id)

    # the host's loopback is mapped when passt starts: a live change is refused, not faked
    with pytest.raises(NotEnforceable, match="cannot open the host's loopback to running"
                                             " instance 'plain' live"):
        await cloud.sgs.attach("plain", "host-access")
    with pytest.raises(NotEnforceable, match="every port or none"):
        await cloud.sgs.rule_add("host-access", RuleInput(direction="egress", ports="5432",
                                                          cidr="127.0.0.1/32"))


# ---- bridge mode: the host's own services (veth "instances", real kernel and nft) ------

@pytest.mark.skipif(os.geteuid() != 0, reason="bridge mode needs root")
def test_bridge_guest_reaches_the_host_only_through_a_rule_that_names_it(
    netns: str, veth_lan: dict[str, str],  # noqa: F811 (the fixtures imported above)
) -> None:
    from tests.test_network_bridge import _reaches as reaches
    from tests.test_network_bridge import _rule

    host = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", SERVE],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        a = veth_lan["a"]
        egress = _rule("g", cidr="0.0.0.0/0", priority=100, direction=Direction.EGRESS,
                       protocol=Protocol.ALL)

        def apply(*rules: Rule) -> None:
            ports = [nft.Port("ltp-ta", "10.78.0.10", "52:54:00:00:78:10", rules)]
            bridge.nft(netns, nft.compile_table("lbr-t", ports, {}))

        assert reaches(a, "10.78.0.1")  # no firewall: the host's service is open
        apply(egress)
        assert not reaches(a, "10.78.0.1")  # egress allowed is the world, not the host
        apply(egress, _rule("g", cidr="127.0.0.1/32", priority=10,
                            direction=Direction.EGRESS))
        assert reaches(a, "10.78.0.1")  # tcp/80 to the host, named
        apply(egress, _rule("g", cidr="10.78.0.1/32", priority=10,
                            direction=Direction.EGRESS, protocol=Protocol.ALL))
        assert reaches(a, "10.78.0.1")  # or by one of its addresses
    finally:
        host.kill()
        host.wait()
