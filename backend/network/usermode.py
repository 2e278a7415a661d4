"""User-mode networking (no root): security groups compiled to slirp forwards and passt.

Ingress allow rules become host port forwards of the slirp NIC (`hostfwd`, changed live),
bound to the address the source CIDR implies (127.0.0.1/32 → loopback, 0.0.0.0/0 → every
address); traffic without a forward never reaches the guest, so ingress is deny-by-default.
The slirp NIC is always `restrict=on`: through it the guest reaches nothing, so slirp's
10.0.2.2 → host 127.0.0.1 mapping leads nowhere.

Egress goes through a second NIC served by passt (backend/drivers/qemu/passt.py) and is
all or nothing per destination: `all to 0.0.0.0/0` is the outside world, never the host's
loopback; `all to 127.0.0.1/32` names the host's loopback (every port of it, and so other
instances' "from this host" forwards: the guest counts as this host) and needs the world
allowed too. Denied egress is no passt NIC at all. Anything finer is refused with an error
naming bridge mode, which enforces it. Without passt installed, egress falls back to slirp
alone, unsealed, and says so (doctor, instance details).
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.inventory.errors import LecsError, ValidationError
from backend.network.records import Action, Direction, Protocol, Rule
from backend.network.rules import ANY, LOOPBACK, decide, describe, ordered

MODE = "user-mode networking"
MAX_FORWARDS = 64  # per instance: every forwarded port is a listening socket on the host
LOOPBACK_PEER, REMOTE_PEER = "127.0.0.1", "192.0.2.1"  # a loopback client; any other client


class NotEnforceable(ValidationError):
    """A rule (or a combination of rules) this networking mode cannot enforce."""


@dataclass(frozen=True, slots=True)
class WantedForward:
    protocol: str
    host_addr: str  # 127.0.0.1 or 0.0.0.0
    guest_port: int


@dataclass(frozen=True, slots=True)
class Plan:
    forwards: tuple[WantedForward, ...]
    restrict: bool  # egress denied: no egress NIC (and slirp restrict=on)
    host_loopback: bool = False  # an egress rule names the host's loopback: passt maps it


def _refuse(rule: Rule, reason: str) -> NotEnforceable:
    return NotEnforceable(
        f"{MODE} cannot enforce rule '{describe(rule)}': {reason}; bridge mode"
        " (root; instance create --network NET) enforces it"
    )


def check_rule(rule: Rule) -> None:
    """Refuse a rule user mode cannot enforce on its own."""
    if rule.remote_group:
        raise _refuse(rule, "a group as peer needs instances on a shared network (here every"
                            " guest reaches another's forwards as the host itself, so one"
                            " group cannot be told from another)")
    if rule.direction is Direction.EGRESS:
        if rule.cidr not in (ANY, LOOPBACK):
            raise _refuse(rule, "egress goes to the outside world (0.0.0.0/0) or to the"
                                " host's loopback (127.0.0.1/32), all or nothing")
        if rule.protocol is not Protocol.ALL:
            what = ("passt maps the host's loopback whole, every port or none"
                    if rule.cidr == LOOPBACK else "egress is all-or-nothing here")
            raise _refuse(rule, f"{what} (protocol all to {rule.cidr})")
        return
    if rule.cidr not in (ANY, LOOPBACK):
        raise _refuse(rule, "forwards admit either loopback (127.0.0.1/32) or any address"
                            " (0.0.0.0/0)")
    if rule.action is Action.ALLOW:
        if rule.protocol not in (Protocol.TCP, Protocol.UDP):
            raise _refuse(rule, "only tcp and udp ports can be forwarded")
        if rule.port_max - rule.port_min + 1 > MAX_FORWARDS:
            raise _refuse(rule, f"at most {MAX_FORWARDS} ports are forwarded per instance")


def compile_rules(rules: Iterable[Rule]) -> Plan:
    """The forwards and the egress switch for an instance in all these rules' groups."""
    rules = list(rules)
    for rule in rules:
        check_rule(rule)
    candidates: set[tuple[str, int]] = set()
    for rule in rules:
        if rule.direction is Direction.INGRESS and rule.action is Action.ALLOW:
            for port in range(rule.port_min, rule.port_max + 1):
                candidates.add((rule.protocol.value, port))
    forwards: list[WantedForward] = []
    for proto, port in sorted(candidates, key=lambda c: (c[1], c[0])):
        protocol = Protocol(proto)
        local = decide(rules, Direction.INGRESS, protocol, port, LOOPBACK_PEER)
        remote = decide(rules, Direction.INGRESS, protocol, port, REMOTE_PEER)
        if local is Action.ALLOW:
            addr = "0.0.0.0" if remote is Action.ALLOW else "127.0.0.1"
            forwards.append(WantedForward(proto, addr, port))
        elif remote is Action.ALLOW:
            raise NotEnforceable(
                f"{MODE} cannot admit other hosts to {proto}/{port} while denying loopback"
                " (a forward on 0.0.0.0 also admits 127.0.0.1); bridge mode enforces it")
    if len(forwards) > MAX_FORWARDS:
        raise NotEnforceable(f"{MODE} forwards at most {MAX_FORWARDS} ports per instance"
                             f" ({len(forwards)} allowed); bridge mode has no such limit")
    egress = decide(rules, Direction.EGRESS, Protocol.TCP, 1, REMOTE_PEER)
    host = host_loopback(rules)
    if host and egress is Action.DENY:
        raise NotEnforceable(f"{MODE} reaches the host's loopback only with egress to"
                             " 0.0.0.0/0 allowed too (passt serves both); bridge mode"
                             " enforces it")
    return Plan(tuple(forwards), restrict=egress is Action.DENY, host_loopback=host)


def host_loopback(rules: Iterable[Rule]) -> bool:
    """Whether an egress rule that names the host's loopback (127.0.0.1/32) allows it.

    0.0.0.0/0 contains 127.0.0.1 but does not name it: "egress allowed" is the outside
    world, and the host's own services are reached only through a rule that says so.
    """
    named = [r for r in rules if r.direction is Direction.EGRESS and r.cidr == LOOPBACK]
    for rule in ordered(named):
        return rule.action is Action.ALLOW
    return False


def port_is_free(protocol: str, addr: str, port: int) -> bool:
    """Whether QEMU could listen on it: with SO_REUSEADDR, as QEMU's listener does, so a
    port left in TIME-WAIT (by a readiness probe, a closed ssh) counts as free."""
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((addr, port))
        except OSError:
            return False
    return True


def _port_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def preferred_port(instance_id: str, protocol: str, addr: str, guest_port: int) -> int:
    """The host port a guest port of an instance gets whenever it is free: the same one for
    the instance's whole life (a rule deleted and added again, a stop and a start)."""
    low, high = _port_range()
    digest = hashlib.sha256(f"{instance_id}/{protocol}/{addr}/{guest_port}".encode()).digest()
    return low + int.from_bytes(digest[:4], "big") % (high - low + 1)


def free_port(protocol: str, addr: str, avoid: set[int], prefer: int | None = None) -> int:
    """`prefer` if it is free, else a port the kernel picks that `avoid` does not hold."""
    if prefer is not None and prefer not in avoid and port_is_free(protocol, addr, prefer):
        return prefer
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind((addr, 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port
    raise LecsError(f"no free {protocol} port on {addr}")


def recorded_ports(db: Any) -> set[int]:
    """Every host port a forward row holds, a stopped instance's too (its ports stay its own).
    Read it inside the write transaction (`BEGIN IMMEDIATE`) that stores the ports chosen
    from it: read outside, two writers pick the same port (the unique index refuses one)."""
    return {int(r[0]) for r in db.execute("SELECT host_port FROM forwards").fetchall()}


def assign(
    plan: Plan, instance_id: str, current: list[dict[str, object]], used: set[int],
) -> list[dict[str, object]]:
    """Forward rows for `plan`: a forward that stays keeps its host port; new ones get one."""
    keep = {(r["protocol"], r["host_addr"], r["guest_port"]): r for r in current}
    rows: list[dict[str, object]] = []
    for want in plan.forwards:
        old = keep.get((want.protocol, want.host_addr, want.guest_port))
        if old is not None:
            rows.append(dict(old))
            continue
        port = free_port(want.protocol, want.host_addr, used, preferred_port(
            instance_id, want.protocol, want.host_addr, want.guest_port))
        used.add(port)
        rows.append({"instance_id": instance_id, "protocol": want.protocol,
                     "host_addr": want.host_addr, "host_port": port,
                     "guest_port": want.guest_port})
    return rows


def diff(
    old: list[dict[str, object]], new: list[dict[str, object]],
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(forwards to remove, forwards to add) to go from `old` to `new`."""
    def key(r: dict[str, object]) -> tuple[object, ...]:
        return (r["protocol"], r["host_addr"], r["host_port"], r["guest_port"])

    old_keys, new_keys = {key(r) for r in old}, {key(r) for r in new}
    return ([r for r in old if key(r) not in new_keys], [r for r in new if key(r) not in old_keys])
