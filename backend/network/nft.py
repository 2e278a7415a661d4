"""Security groups compiled to nftables tables per network, as `nft -j` JSON.

Two tables per network, replaced together in one transaction:

- `inet`: the security groups, stateful. Bridged IPv4 reaches the inet forward hook through
  br_netfilter (`bridge-nf-call-iptables=1`, see bridge.py), where conntrack works on any
  kernel; the bridge family's own conntrack (`nf_conntrack_bridge`) is not needed and often
  not built. Established/related traffic is accepted first (a flag test, op `in`: `==`
  would compare the whole state with established|related and never match). Per NIC an
  ingress chain (traffic to the instance) and an egress chain (traffic from it): invalid
  dropped, then the rules of all its groups in evaluation order (priority, deny first at
  equal priority), then drop. An egress allow `return`s so the peer's ingress chain still
  decides. Per group a set of the member addresses on this network, for rules that name a
  group as peer. DHCP with the network's own dnsmasq always passes. Traffic from a NIC to
  the host itself (input hook) passes only the egress rules that name the host
  (`host_rules`): "egress allowed" is the outside world, never the host's own services.
- `bridge`: stateless guards at layer 2 that make an address in the inet table mean the
  instance it was given to. From a tap only that NIC's MAC; only IPv4 and ARP (the rule
  model is IPv4, so IPv6 would otherwise pass unfiltered); IPv4 only from the NIC's address
  (or 0.0.0.0 for DHCP); ARP only claiming the NIC's address and MAC.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from backend.network.records import Action, Direction, Protocol, Rule
from backend.network.rules import LOOPBACK, ordered

FAMILY = "bridge"
Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Port:
    tap: str
    ip: str
    mac: str
    rules: tuple[Rule, ...]


def table_name(bridge: str) -> str:
    return "lecs_" + bridge.replace("-", "_")


def _match(left: Json, right: Any, op: str = "==") -> Json:
    return {"match": {"op": op, "left": left, "right": right}}


def _meta(key: str) -> Json:
    return {"meta": {"key": key}}


def _peer(rule: Rule, field: str) -> list[Json]:
    left = {"payload": {"protocol": "ip", "field": field}}
    if rule.remote_group:
        return [_match(left, "@" + set_name(rule.remote_group))]
    net = ipaddress.ip_network(rule.cidr)
    if net.prefixlen == 0:
        return [_match(_meta("protocol"), "ip")]
    return [_match(left, {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}})]


def _service(rule: Rule) -> list[Json]:
    if rule.protocol is Protocol.ALL:
        return []
    exprs = [_match(_meta("l4proto"), rule.protocol.value)]
    if rule.protocol in (Protocol.TCP, Protocol.UDP) and rule.port_min:
        dport = {"payload": {"protocol": rule.protocol.value, "field": "dport"}}
        right: Any = (rule.port_min if rule.port_min == rule.port_max
                      else {"range": [rule.port_min, rule.port_max]})
        exprs.append(_match(dport, right))
    return exprs


def set_name(group_id: str) -> str:
    return "g_" + group_id.replace("-", "_")


def chain_rules(rules: Iterable[Rule], direction: Direction) -> list[list[Json]]:
    field = "saddr" if direction is Direction.INGRESS else "daddr"
    allow: Json = {"accept": None} if direction is Direction.INGRESS else {"return": None}
    out = []
    for rule in ordered(r for r in rules if r.direction is direction):
        verdict = allow if rule.action is Action.ALLOW else {"drop": None}
        out.append(_peer(rule, field) + _service(rule) + [verdict])
    out.append([{"drop": None}])
    return out


def host_rules(rules: Iterable[Rule]) -> list[list[Json]]:
    """The egress rules that name the host, as the input chain of a NIC's traffic to it.

    "Egress allowed" (0.0.0.0/0) is the outside world, not the host: a guest reaches the
    host's own services only through a rule that names it, 127.0.0.1/32 (the host, any of
    its addresses: as in user mode) or a CIDR of a host address; else dropped.
    """
    out = []
    for rule in ordered(r for r in rules if r.direction is Direction.EGRESS):
        if rule.remote_group or ipaddress.ip_network(rule.cidr).prefixlen == 0:
            continue
        peer = [] if rule.cidr == LOOPBACK else _peer(rule, "daddr")
        verdict = {"accept": None} if rule.action is Action.ALLOW else {"drop": None}
        out.append(peer + _service(rule) + [verdict])
    out.append([{"drop": None}])
    return out


def compile_table(bridge: str, ports: list[Port], groups: dict[str, list[str]]) -> Json:
    """The `nft -j -f -` document that replaces this network's two tables (see above)."""
    table = table_name(bridge)
    base = {"family": "inet", "table": table}
    cmds: list[Json] = []
    for family in ("inet", FAMILY):
        cmds += [{"add": {"table": {"family": family, "name": table}}},
                 {"delete": {"table": {"family": family, "name": table}}},
                 {"add": {"table": {"family": family, "name": table}}}]
    for group_id, addrs in sorted(groups.items()):
        cmds.append({"add": {"set": {**base, "name": set_name(group_id), "type": "ipv4_addr"}}})
        if addrs:
            cmds.append({"add": {"element": {**base, "name": set_name(group_id),
                                             "elem": sorted(addrs)}}})

    def rule(chain: str, expr: list[Json], where: Json = base) -> None:
        cmds.append({"add": {"rule": {**where, "chain": chain, "expr": expr}}})

    def ip(field: str, value: str) -> Json:
        return _match({"payload": {"protocol": "ip", "field": field}}, value)

    for hook in ("forward", "input", "output"):
        cmds.append({"add": {"chain": {**base, "name": hook, "type": "filter", "hook": hook,
                                       "prio": 0, "policy": "accept"}}})
        rule(hook, [_match({"ct": {"key": "state"}}, ["established", "related"], "in"),
                    {"accept": None}])
    for hook, direction in (("input", "dport"), ("output", "sport")):  # DHCP with dnsmasq
        rule(hook, [_match(_meta("l4proto"), "udp"),
                    _match({"payload": {"protocol": "udp", "field": direction}}, 67),
                    {"accept": None}])
    for port in ports:
        inbound, outbound = f"in_{port.tap}", f"out_{port.tap}"
        for name, direction in ((inbound, Direction.INGRESS), (outbound, Direction.EGRESS)):
            cmds.append({"add": {"chain": {**base, "name": name}}})
            rule(name, [_match({"ct": {"key": "state"}}, "invalid", "in"), {"drop": None}])
            for expr in chain_rules(port.rules, direction):
                rule(name, expr)
        rule("forward", [ip("saddr", port.ip), {"jump": {"target": outbound}}])
        to_host = f"host_{port.tap}"  # the host's own addresses and services (input hook)
        cmds.append({"add": {"chain": {**base, "name": to_host}}})
        rule(to_host, [_match({"ct": {"key": "state"}}, "invalid", "in"), {"drop": None}])
        for expr in host_rules(port.rules):
            rule(to_host, expr)
        rule("input", [ip("saddr", port.ip), {"jump": {"target": to_host}}])
    for port in ports:  # ingress after every egress check, so both sides decide
        rule("forward", [ip("daddr", port.ip), {"jump": {"target": f"in_{port.tap}"}}])
        rule("output", [ip("daddr", port.ip), {"jump": {"target": f"in_{port.tap}"}}])
    guard = {"family": FAMILY, "table": table}
    cmds.append({"add": {"chain": {**guard, "name": "spoof", "type": "filter",
                                   "hook": "prerouting", "prio": -200, "policy": "accept"}}})

    def differs(protocol: str, field: str, right: Any) -> Json:
        return _match({"payload": {"protocol": protocol, "field": field}}, right, "!=")

    for port in ports:
        from_port = _match(_meta("iifname"), port.tap)
        for test in (differs("ether", "saddr", port.mac),
                     differs("ether", "type", {"set": ["ip", "arp"]}),
                     differs("ip", "saddr", {"set": [port.ip, "0.0.0.0"]}),
                     differs("arp", "saddr ether", port.mac),
                     differs("arp", "saddr ip", {"set": [port.ip, "0.0.0.0"]})):
            rule("spoof", [from_port, test, {"drop": None}], guard)
    return {"nftables": [{"metainfo": {"json_schema_version": 1}}] + cmds}


def delete_table(bridge: str) -> Json:
    name = table_name(bridge)
    return {"nftables": [{verb: {"table": {"family": family, "name": name}}}
                         for family in ("inet", FAMILY) for verb in ("add", "delete")]}
