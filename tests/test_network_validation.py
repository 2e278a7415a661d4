"""Security group input is validated before anything is stored; every refusal is audited."""

from __future__ import annotations

import pytest

from backend import Cloud
from backend.inventory.errors import LecsError, NotFoundError, ValidationError
from backend.network import usermode
from backend.network.records import Action, Direction, Protocol
from backend.network.rules import RuleInput, build, decide
from backend.network.usermode import NotEnforceable


def _count(cloud: Cloud) -> int:
    return int(cloud.store.db["sg_rules"].count)


@pytest.mark.parametrize(("spec", "message"), [
    (RuleInput(cidr="10.0.0.0/33", ports="80"), "invalid CIDR '10.0.0.0/33'"),
    (RuleInput(ports="0"), "invalid port 0"),
    (RuleInput(ports="70000"), "invalid port 70000"),
    (RuleInput(ports="90-80"), "invalid port range '90-80': 90 is above 80"),
    (RuleInput(protocol="sctp", ports="80"), "unknown protocol 'sctp'"),
    (RuleInput(direction="sideways", ports="80"), "unknown direction"),
    (RuleInput(action="maybe", ports="80"), "unknown action"),
    (RuleInput(ports="80", priority=0), "invalid priority 0"),
    (RuleInput(ports="80", priority=101), "invalid priority 101"),
    (RuleInput(protocol="tcp", ports=""), "needs a port"),
    (RuleInput(protocol="icmp", ports="80"), "has no ports"),
])
async def test_bad_rules_are_refused_and_nothing_is_stored(
    bare_cloud: Cloud, spec: RuleInput, message: str
) -> None:
    bare_cloud.sgs.create("web")
    before = _count(bare_cloud)
    with pytest.raises(ValidationError, match=message):
        await bare_cloud.sgs.rule_add("web", spec)
    assert _count(bare_cloud) == before
    last = bare_cloud.audit.list(limit=1)[0]
    assert last.action == "sg.rule-add" and last.result == "failure"


async def test_unknown_group_is_refused(bare_cloud: Cloud) -> None:
    with pytest.raises(NotFoundError, match="security group 'nope' not found"):
        await bare_cloud.sgs.rule_add("nope", RuleInput(ports="80"))
    with pytest.raises(NotFoundError, match="security group 'ghost' not found"):
        await bare_cloud.sgs.rule_add("default", RuleInput(ports="80", remote_group="ghost"))
    assert bare_cloud.store.row("SELECT count(*) AS n FROM sg_rules WHERE group_id IN"
                                " (SELECT id FROM security_groups WHERE name='default')"
                                )["n"] == 3


def test_new_group_and_default_group_shapes(bare_cloud: Cloud) -> None:
    web = bare_cloud.sgs.create("web", "front")
    assert [(r.direction, r.protocol, r.cidr, r.action) for r in web.rules] == [
        (Direction.EGRESS, Protocol.ALL, "0.0.0.0/0", Action.ALLOW)]
    default = bare_cloud.sgs.get("default")
    ingress = sorted((r.port_min, r.cidr) for r in default.rules
                     if r.direction is Direction.INGRESS)
    assert ingress == [(22, "127.0.0.1/32"), (80, "127.0.0.1/32")]
    with pytest.raises(LecsError, match="exists already"):
        bare_cloud.sgs.create("web")
    with pytest.raises(LecsError, match="cannot be deleted"):
        bare_cloud.sgs.delete("default")
    bare_cloud.sgs.delete("web")
    assert [g.name for g in bare_cloud.sgs.list()] == ["default"]


def test_priority_order_and_deny_wins_ties() -> None:
    allow = build(RuleInput(ports="80", priority=10), "r-a", "sg-1")
    deny_same = build(RuleInput(ports="80", priority=10, action="deny"), "r-b", "sg-1")
    allow_first = build(RuleInput(ports="80", priority=5), "r-c", "sg-1")
    ingress, tcp = Direction.INGRESS, Protocol.TCP
    assert decide([allow], ingress, tcp, 80, "1.2.3.4") is Action.ALLOW
    assert decide([allow, deny_same], ingress, tcp, 80, "1.2.3.4") is Action.DENY
    assert decide([allow, deny_same, allow_first], ingress, tcp, 80, "1.2.3.4") is Action.ALLOW
    assert decide([allow], ingress, tcp, 81, "1.2.3.4") is Action.DENY  # no match: deny


def test_user_mode_compiles_and_refuses_what_it_cannot_enforce() -> None:
    def rule(**kw: object) -> object:
        return build(RuleInput(**kw), "r-x", "sg-1")  # type: ignore[arg-type]

    plan = usermode.compile_rules([
        rule(ports="80", cidr="0.0.0.0/0", priority=10),
        rule(ports="22", cidr="127.0.0.1/32", priority=10),
        rule(ports="8000-8001", protocol="udp", priority=10),
        rule(direction="egress", protocol="all", action="deny", priority=1),
    ])
    assert [(f.protocol, f.host_addr, f.guest_port) for f in plan.forwards] == [
        ("tcp", "127.0.0.1", 22), ("tcp", "0.0.0.0", 80), ("udp", "0.0.0.0", 8000),
        ("udp", "0.0.0.0", 8001)]
    assert plan.restrict
    for bad, why in [
        (rule(ports="80", cidr="10.0.0.0/8"), "loopback .* or any address"),
        (rule(protocol="icmp"), "only tcp and udp ports can be forwarded"),
        (rule(direction="egress", protocol="tcp", ports="443", action="deny"), "all-or-nothing"),
        (rule(ports="1000-2000"), "at most 64 ports"),
    ]:
        with pytest.raises(NotEnforceable, match=f"user-mode networking cannot .*{why}"
                                                 ".*bridge mode"):
            usermode.compile_rules([bad])  # type: ignore[list-item]
    with pytest.raises(NotEnforceable, match="while denying loopback"):
        usermode.compile_rules([rule(ports="80", priority=10),
                                rule(ports="80", cidr="127.0.0.1/32", action="deny",
                                     priority=1)])  # type: ignore[list-item]
