"""Bridge mode on this host (root): Linux bridge, taps, dnsmasq DHCP, nftables.

Every command is an argv list (`ip`, `nft -j -f -`, `dnsmasq`), optionally inside a network
namespace. Names carry lecs prefixes (`lbr-…` bridges, `ltp-…` taps, `lecs_…` tables) so
that reconcile can find and remove what no inventory row explains.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from backend.inventory.errors import LecsError

BRIDGE_PREFIX, TAP_PREFIX, TABLE_PREFIX = "lbr-", "ltp-", "lecs_"
APT = "apt-get install iproute2 nftables dnsmasq-base procps"
BRIDGE_NF = "net.bridge.bridge-nf-call-iptables"


class BridgeError(LecsError):
    """A host networking command failed."""


def require_root() -> None:
    if os.geteuid() != 0:
        raise BridgeError("bridge mode needs root (bridges, taps, nftables); user-mode"
                          " networking, the default, needs none")
    for tool in ("ip", "nft", "dnsmasq", "sysctl"):
        if not shutil.which(tool):
            raise BridgeError(f"bridge mode needs {tool!r} ({APT})")


def _in_ns(netns: str, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", netns, *argv] if netns else argv


def run(argv: list[str], stdin: str | None = None, check: bool = True) -> str:
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False,
                              timeout=30)
    except FileNotFoundError:
        raise BridgeError(f"{argv[0]} is not installed ({APT})") from None
    if check and proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines() or ["no output"]
        raise BridgeError(f"{' '.join(argv[:4])} failed: {lines[0].strip()}")
    return proc.stdout


def ip(netns: str, *args: str, check: bool = True) -> str:
    return run(["ip", *(["-n", netns] if netns else []), *args], check=check)


def links(netns: str) -> list[str]:
    out = ip(netns, "-j", "link", "show", check=False)
    try:
        return [str(link["ifname"]) for link in json.loads(out or "[]")]
    except ValueError:
        return []


def ensure_bridge(netns: str, bridge: str, gateway: str) -> None:
    """The bridge with the gateway address (e.g. 10.77.0.1/24), up."""
    if bridge not in links(netns):
        ip(netns, "link", "add", bridge, "type", "bridge")
        ip(netns, "addr", "add", gateway, "dev", bridge)
    ip(netns, "link", "set", bridge, "up")


def _sysctl(netns: str, key: str) -> str | None:
    """The value of `key` as the namespace sees it, or None when the key does not exist."""
    try:
        return run(_in_ns(netns, ["sysctl", "-n", key])).strip()
    except BridgeError:
        return None


def ensure_bridge_netfilter(netns: str) -> None:
    """Bridged IPv4 must pass the inet hooks, where conntrack and the groups are.

    br_netfilter is a module on stock Debian kernels (built in on some others): load it
    when its sysctls are missing, set `bridge-nf-call-iptables` (per namespace since Linux
    5.3; in the host namespace this applies to every bridge of the host) and read it back.
    Without it the inet table never sees traffic between taps and every port is open, so
    bridge mode refuses to go on rather than run with a firewall that is not there.
    """
    if _sysctl(netns, BRIDGE_NF) is None and shutil.which("modprobe"):
        run(["modprobe", "br_netfilter"], check=False)
    if _sysctl(netns, BRIDGE_NF) is None:
        raise BridgeError(f"bridge mode needs br_netfilter ({BRIDGE_NF} does not exist;"
                          " try `modprobe br_netfilter`)")
    if _sysctl(netns, BRIDGE_NF) != "1":
        run(_in_ns(netns, ["sysctl", "-qw", f"{BRIDGE_NF}=1"]), check=False)
        if _sysctl(netns, BRIDGE_NF) != "1":
            raise BridgeError(f"cannot set {BRIDGE_NF}=1"
                              f"{' in namespace ' + netns if netns else ''}: without it"
                              " security groups would not see traffic between instances")


def plug(netns: str, tap: str, bridge: str) -> None:
    """Attach QEMU's tap to the bridge and bring it up."""
    ip(netns, "link", "set", tap, "master", bridge)
    ip(netns, "link", "set", tap, "up")


def delete_link(netns: str, name: str) -> None:
    if name in links(netns):
        ip(netns, "link", "del", name, check=False)


def nft(netns: str, document: dict[str, Any]) -> None:
    run(_in_ns(netns, ["nft", "-j", "-f", "-"]), stdin=json.dumps(document))


def tables(netns: str) -> list[tuple[str, str]]:
    out = run(_in_ns(netns, ["nft", "-j", "list", "tables"]), check=False)
    try:
        items = json.loads(out or "{}").get("nftables", [])
    except ValueError:
        return []
    return [(i["table"]["family"], i["table"]["name"]) for i in items if "table" in i]


def dnsmasq_running(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    try:
        if "dnsmasq" not in Path(f"/proc/{pid}/comm").read_text():
            return None
    except OSError:
        return None
    return pid


def dnsmasq_start(netns: str, bridge: str, network: str, netmask: str, state: Path) -> None:
    """DHCP for static leases only (dhcp-hostsfile, re-read on SIGHUP); no DNS."""
    pidfile, hosts = state / "dnsmasq.pid", state / "dhcp-hosts"
    if not hosts.exists():
        hosts.write_text("")
    pid = dnsmasq_running(pidfile)
    if pid:
        os.kill(pid, signal.SIGHUP)
        return
    run(_in_ns(netns, [
        "dnsmasq", "--conf-file=/dev/null", "--port=0", "--bind-interfaces",
        f"--interface={bridge}", "--except-interface=lo", "--user=root",
        f"--dhcp-range={network},static,{netmask},1h", f"--dhcp-hostsfile={hosts}",
        f"--dhcp-leasefile={state / 'leases'}", f"--pid-file={pidfile}",
        "--dhcp-authoritative", f"--log-facility={state / 'log'}",
    ]))


def dnsmasq_stop(state: Path) -> None:
    pid = dnsmasq_running(state / "dnsmasq.pid")
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    shutil.rmtree(state, ignore_errors=True)
