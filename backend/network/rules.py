"""Security group rules: parsing and validation of user input, and first-match evaluation.

Rules of all the groups an instance is in are evaluated together: lower priority first,
and at equal priority a deny wins over an allow. Traffic no rule matches is denied.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from backend.inventory.errors import ValidationError
from backend.network.records import Action, Direction, Protocol, Rule

MIN_PRIORITY, MAX_PRIORITY = 1, 100
MAX_DESCRIPTION = 256
ANY = "0.0.0.0/0"
LOOPBACK = "127.0.0.1/32"


@dataclass(frozen=True, slots=True)
class RuleInput:
    """A rule as a user gives it (CLI, dashboard), before validation."""

    direction: str = "ingress"
    protocol: str = "tcp"
    ports: str = ""  # "80", "8000-8080", "" or "all" (required for tcp/udp)
    cidr: str = ""  # "" = 0.0.0.0/0 unless remote_group is given
    action: str = "allow"
    priority: int | str = 1
    description: str = ""
    remote_group: str = ""  # a group name or id (bridge mode)


def _enum(kind: type[Direction] | type[Protocol] | type[Action], value: str, what: str) -> str:
    raw = str(value).strip().lower()
    allowed = [m.value for m in kind]
    if raw not in allowed:
        raise ValidationError(f"unknown {what} {value!r}: use one of {', '.join(allowed)}")
    return raw


def parse_ports(raw: str, protocol: Protocol) -> tuple[int, int]:
    """`80` or `80-90` for tcp/udp; icmp and all have no ports (0, 0)."""
    text = str(raw).strip()
    if protocol in (Protocol.ICMP, Protocol.ALL):
        if text not in ("", "all", "-1", "-1/-1", "1-65535"):
            raise ValidationError(f"protocol {protocol.value} has no ports; drop {raw!r}")
        return 0, 0
    if text in ("", "all"):
        if not text:
            raise ValidationError(f"protocol {protocol.value} needs a port or range, e.g. 80"
                                  " or 8000-8080 (or 'all')")
        return 1, 65535
    low_s, sep, high_s = text.partition("-")
    try:
        low = int(low_s)
        high = int(high_s) if sep else low
    except ValueError:
        raise ValidationError(f"invalid port {raw!r}: expected PORT or LOW-HIGH") from None
    for port in (low, high):
        if not 1 <= port <= 65535:
            raise ValidationError(f"invalid port {port} in {raw!r}: ports are 1-65535")
    if low > high:
        raise ValidationError(f"invalid port range {raw!r}: {low} is above {high}")
    return low, high


def parse_cidr(raw: str) -> str:
    text = str(raw).strip() or ANY
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValidationError(f"invalid CIDR {raw!r}: expected e.g. 10.0.0.0/24") from None
    if net.version != 4:
        raise ValidationError(f"invalid CIDR {raw!r}: only IPv4 is supported")
    return str(net)


def parse_priority(raw: int | str) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValidationError(f"invalid priority {raw!r}: expected a whole number") from None
    if not MIN_PRIORITY <= value <= MAX_PRIORITY:
        raise ValidationError(
            f"invalid priority {value}: must be {MIN_PRIORITY}-{MAX_PRIORITY} (lower first)")
    return value


def build(spec: RuleInput, rule_id: str, group_id: str, remote_group_id: str = "") -> Rule:
    """Validate `spec` into a Rule; raises ValidationError with one clear line."""
    direction = Direction(_enum(Direction, spec.direction, "direction"))
    protocol = Protocol(_enum(Protocol, spec.protocol, "protocol"))
    action = Action(_enum(Action, spec.action, "action"))
    port_min, port_max = parse_ports(spec.ports, protocol)
    if remote_group_id and spec.cidr.strip():
        raise ValidationError("give a CIDR or a remote group, not both")
    cidr = "" if remote_group_id else parse_cidr(spec.cidr)
    description = str(spec.description)
    if len(description) > MAX_DESCRIPTION or any(ord(c) < 32 for c in description):
        raise ValidationError(f"invalid description: at most {MAX_DESCRIPTION} printable"
                              " characters")
    return Rule(
        id=rule_id, group_id=group_id, direction=direction, protocol=protocol,
        port_min=port_min, port_max=port_max, cidr=cidr, action=action,
        priority=parse_priority(spec.priority), description=description,
        remote_group=remote_group_id,
    )


def ordered(rules: Iterable[Rule]) -> list[Rule]:
    """Evaluation order: priority ascending, deny before allow at equal priority."""
    return sorted(rules, key=lambda r: (r.priority, r.action is not Action.DENY, r.id))


def covers_port(rule: Rule, protocol: Protocol, port: int) -> bool:
    if rule.protocol is Protocol.ALL:
        return True
    if rule.protocol is not protocol:
        return False
    return rule.port_min == 0 or rule.port_min <= port <= rule.port_max


def cidr_contains(cidr: str, address: str) -> bool:
    return ipaddress.ip_address(address) in ipaddress.ip_network(cidr)


def decide(
    rules: Iterable[Rule], direction: Direction, protocol: Protocol, port: int, peer: str,
) -> Action:
    """The action for one flow: the first matching rule, else deny. `peer` is an address."""
    for rule in ordered(rules):
        if rule.direction is not direction or not rule.cidr:
            continue
        if covers_port(rule, protocol, port) and cidr_contains(rule.cidr, peer):
            return rule.action
    return Action.DENY


def describe(rule: Rule) -> str:
    peer = "from" if rule.direction is Direction.INGRESS else "to"
    return (f"{rule.direction.value} {rule.action.value} {rule.protocol.value}/{rule.ports}"
            f" {peer} {rule.peer} priority {rule.priority}")
