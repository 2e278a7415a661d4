"""Rows of the Security groups pane's three tables: groups, rules, open ports (pure)."""

from __future__ import annotations

from app.tui.widgets.cells import state_style
from app.tui.widgets.vtable import Column, Row
from backend.compute.records import Instance
from backend.inventory.records import InstanceState as S
from backend.network.records import Action, Rule, SecurityGroup

LIVE = (S.STARTING, S.RUNNING, S.PAUSED, S.REBOOTING, S.STOPPING)  # QEMU holds them open
SERVICES = {22: "ssh", 80: "http", 443: "https"}
GROUP_COLUMNS = [
    Column("name", "NAME", 8, 24),
    Column("id", "ID", 13, 13, priority=2),
    Column("rules", "RULES", 5, 5, align_right=True),
    Column("instances", "INSTANCES", 9, 40, priority=1),
    Column("description", "DESCRIPTION", 11, 60, priority=3, flex=True),
]
RULE_COLUMNS = [
    Column("direction", "DIRECTION", 9, 9),
    Column("protocol", "PROTO", 5, 5),
    Column("ports", "PORTS", 5, 11),
    Column("peer", "CIDR / PEER GROUP", 17, 24),
    Column("action", "ACTION", 6, 6),
    Column("priority", "PRIO", 4, 4, align_right=True),
    Column("description", "DESCRIPTION", 11, 60, priority=1, flex=True),
    Column("id", "RULE", 12, 12, priority=2),
]
PORT_COLUMNS = [
    Column("instance", "INSTANCE", 8, 24),
    Column("state", "STATE", 7, 10, priority=2),
    Column("groups", "GROUPS", 6, 30, priority=3),
    Column("protocol", "PROTO", 5, 5),
    Column("host", "HOST ADDRESS", 12, 26),
    Column("guest", "GUEST PORT", 10, 12),
    Column("egress", "EGRESS", 6, 10, priority=1),
]


def group_row(group: SecurityGroup, names: dict[str, str]) -> Row:
    members = ",".join(sorted(names.get(i, i) for i in group.instances)) or "-"
    cells = (group.name, group.id, str(len(group.rules)), members, group.description)
    fields = {"name": group.name, "id": group.id, "instance": members}
    return Row(group.id, cells, ("", "muted", "", "", "muted"), fields)


def rule_row(rule: Rule, group_names: dict[str, str]) -> Row:
    peer = rule.cidr or f"group:{group_names.get(rule.remote_group, rule.remote_group)}"
    cells = (rule.direction.value, rule.protocol.value, rule.ports, peer, rule.action.value,
             str(rule.priority), rule.description, rule.id)
    action_style = "ok" if rule.action is Action.ALLOW else "bad"
    styles = ("", "", "", "", action_style, "", "muted", "muted")
    fields = {"direction": rule.direction.value, "protocol": rule.protocol.value,
              "action": rule.action.value, "port": rule.ports}
    return Row(rule.id, cells, styles, fields)


def port_rows(inst: Instance) -> list[Row]:
    """One row per forwarded port (host address:port → guest port), or one saying none."""
    groups = ",".join(inst.security_groups) or "-"
    live = inst.state in LIVE
    # A stopped instance opens nothing: its forwards are only reserved (shown muted)
    egress = ("denied" if inst.egress_restricted else "allowed") if live else "-"
    fields = {"instance": inst.name, "name": inst.name, "state": inst.state.value,
              "group": groups}
    port_style = "" if live else "muted"
    styles = ("", state_style(inst.state), "muted", port_style, port_style, port_style,
              "" if live else "muted")
    if not inst.forwards:
        cells = (inst.name, inst.state.value, groups, "-", "no open ports", "-", egress)
        return [Row(f"{inst.id}/-", cells, styles, fields, inst.tags)]
    rows = []
    for fwd in inst.forwards:
        service = SERVICES.get(fwd.guest_port, "")
        cells = (inst.name, inst.state.value, groups, fwd.protocol,
                 f"{fwd.host_addr}:{fwd.host_port}" + ("" if live else " (closed)"),
                 f"→ {fwd.guest_port}" + (f" ({service})" if service else ""), egress)
        rows.append(Row(f"{inst.id}/{fwd.protocol}/{fwd.guest_port}", cells, styles,
                        {**fields, "protocol": fwd.protocol, "port": str(fwd.guest_port)},
                        inst.tags))
    return rows
