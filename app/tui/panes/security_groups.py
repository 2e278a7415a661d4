"""Security groups: the groups, the selected group's rules, and each instance's open ports.

Three tables stacked in one pane; `tab` moves between them and the filter applies to the
one with the cursor. Every change goes through `cloud.sgs`, which applies it live.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.events import DescendantFocus
from textual.widgets import Static

from app.tui.panes.base import Pane
from app.tui.panes.sg_rows import (
    GROUP_COLUMNS,
    PORT_COLUMNS,
    RULE_COLUMNS,
    group_row,
    port_rows,
    rule_row,
)
from app.tui.widgets.vtable import VirtualTable
from backend.network.records import Direction, Rule, SecurityGroup


class SecurityGroupsPane(Pane):
    NAME = "security-groups"
    TITLE = "Security groups"
    EMPTY = "No security groups."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "create_group", "New group",
                tooltip="Create a security group (denies all ingress, allows all egress)"),
        Binding("a", "add_rule", "Add rule",
                tooltip="Add a rule to the selected group; applied live to its instances"),
        Binding("D", "delete", "Delete",
                tooltip="Delete the group, or the rule when the cursor is in the rules table"
                        " (asks first)"),
        Binding("t", "attach", "Attach", tooltip="Attach the selected group to an instance"
                                                 " (pick from a list)"),
        Binding("T", "detach", "Detach", show=False,
                tooltip="Detach the selected group from an instance (pick from a list)"),
        Binding("p", "keypairs", "Key pairs", show=False,  # the title line says "p: key pairs"
                tooltip="Key pairs: list, import a .pub file, generate, delete"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._active = "security-groups-table"
        self._seen: tuple[object, ...] = ()
        self._groups: list[SecurityGroup] = []

    def compose(self) -> ComposeResult:
        yield Static(self.TITLE, classes="pane-title")
        yield Static("", id="sg-isolation", classes="sg-section")
        yield VirtualTable(GROUP_COLUMNS, empty_text=self.EMPTY, id="security-groups-table",
                           classes="sg-table")
        yield Static("", id="sg-rules-title", classes="sg-section")
        yield VirtualTable(RULE_COLUMNS, empty_text="No rules: all ingress is denied."
                           " Press a to add one.", id="sg-rules", classes="sg-table")
        yield Static("[b]Effective open ports[/b] · host address:port → guest port, per "
                     "instance", id="sg-ports-title", classes="sg-section")
        yield VirtualTable(PORT_COLUMNS, empty_text="No instances.", id="sg-ports",
                           classes="sg-table")

    # ---- the three tables ----------------------------------------------------------
    @property
    def table(self) -> VirtualTable:
        """The table the cursor is in (the filter, the title and esc act on it)."""
        return self.query_one(f"#{self._active}", VirtualTable)

    @property
    def groups_table(self) -> VirtualTable:
        return self.query_one("#security-groups-table", VirtualTable)

    @property
    def rules_table(self) -> VirtualTable:
        return self.query_one("#sg-rules", VirtualTable)

    @property
    def ports_table(self) -> VirtualTable:
        return self.query_one("#sg-ports", VirtualTable)

    def select_group(self, group_id: str) -> None:
        """Put the cursor on a group in the groups table, and focus that table."""
        self.refresh_data()
        self._active = "security-groups-table"
        self.groups_table.focus()
        if group_id:
            self.groups_table.move_to(group_id)
        self._show_rules()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        if isinstance(event.widget, VirtualTable) and event.widget.id:
            self._active = event.widget.id
            self.update_title()

    def update_title(self) -> None:
        groups, table = self.groups_table, self.table
        parts = [f"[b]{self.TITLE}[/b]", str(len(groups.rows))]
        if table.filter_text:
            where = {"sg-rules": "rules", "sg-ports": "ports"}.get(self._active, "groups")
            parts.append(f"filter ({where}): [$accent]{escape(table.filter_text)}[/]")
        parts.append("[$text-muted]tab: next table · p: key pairs[/]")
        self.query_one(".pane-title", Static).update(" · ".join(parts), layout=False)

    # ---- data ----------------------------------------------------------------------
    def groups(self) -> list[SecurityGroup]:
        return self.lecs.cloud.sgs.list()

    def current_group(self) -> SecurityGroup | None:
        key = self.groups_table.current_key
        return next((g for g in self._groups if g.id == key), None) if key else None

    def current_rule(self) -> Rule | None:
        group, key = self.current_group(), self.rules_table.current_key
        if group is None or key is None:
            return None
        return next((r for r in group.rules if r.id == key), None)

    def refresh_data(self) -> None:
        groups = self.groups()
        seen = (self.lecs.version, tuple(repr(g) for g in groups), self.lecs.facts is None)
        if seen == self._seen and self.groups_table.rows:
            return
        self._seen = seen
        self._groups = groups
        self._show_isolation()
        names = {i.id: i.name for i in self.lecs.instances}
        self.groups_table.set_rows([group_row(g, names) for g in groups])
        self.ports_table.set_rows([row for i in self.lecs.instances for row in port_rows(i)])
        self._show_rules()

    def _show_isolation(self) -> None:
        """What each networking mode seals on this host (`lecs doctor` has the details)."""
        line = self.query_one("#sg-isolation", Static)
        facts = self.lecs.facts
        lines = facts.isolation if facts else ()
        line.display = bool(lines)
        if lines:
            line.update("[b]Isolation[/b] · " + escape(" · ".join(lines)), layout=False)

    def _show_rules(self) -> None:
        group = self.current_group()
        title = self.query_one("#sg-rules-title", Static)
        if group is None:
            title.update("[b]Rules[/b]", layout=False)
            self.rules_table.set_rows([])
        else:
            group_names = {g.id: g.name for g in self._groups}
            title.update(f"[b]Rules of {escape(group.name)}[/b] · first match wins: lower "
                         "priority first, deny before allow", layout=False)
            self.rules_table.set_rows([rule_row(r, group_names) for r in group.rules])
        self.update_title()

    def on_virtual_table_highlighted(self, message: VirtualTable.Highlighted) -> None:
        if message.table is self.groups_table and self._groups:
            self._show_rules()
        else:
            self.update_title()

    def on_virtual_table_selected(self, message: VirtualTable.Selected) -> None:
        if message.table is self.groups_table:
            self.rules_table.focus()

    # ---- actions -------------------------------------------------------------------
    def _group_or_warn(self) -> SecurityGroup | None:
        group = self.current_group()
        if group is None:
            self.notify("select a security group first", severity="warning")
        return group

    def action_create_group(self) -> None:
        from app.tui.screens.sg_create import CreateGroupScreen, GroupSpec

        def done(spec: GroupSpec | None) -> None:
            if spec is not None:
                self.lecs.run_op("sg.create", spec.name, self.lecs.cloud.sgs.create,
                                 spec.name, spec.description)

        self.app.push_screen(CreateGroupScreen({g.name for g in self._groups}), done)

    def action_add_rule(self) -> None:
        from app.tui.screens.rule_add import AddRuleScreen
        from backend.network.rules import RuleInput

        group = self._group_or_warn()
        if group is None:
            return

        def done(spec: RuleInput | None) -> None:
            if spec is not None and group is not None:
                self.lecs.run_op("sg.rule-add", group.name, self.lecs.cloud.sgs.rule_add,
                                 group.id, spec)

        self.app.push_screen(AddRuleScreen(group, self._groups), done)

    def _later(self, action: str, resource: str, call: Callable[..., Any], *args: Any
               ) -> Callable[[], None]:
        def go() -> None:
            self.lecs.run_op(action, resource, call, *args)

        return go

    def action_delete(self) -> None:
        group = self._group_or_warn()
        if group is None:
            return
        sgs = self.lecs.cloud.sgs
        if self._active == "sg-ports":
            self.notify("D deletes a group (groups table) or a rule (rules table)",
                        severity="warning")
        elif self._active == "sg-rules":
            rule, row = self.current_rule(), self.rules_table.current_row
            if rule is None or row is None:
                return
            direction, protocol, ports, peer, action = row.cells[:5]
            what = (f"{direction} {action} {protocol} {ports} "
                    f"{'from' if rule.direction is Direction.INGRESS else 'to'} {peer}")
            self.lecs.confirm(
                f"Delete rule {rule.id} from {group.name}?\n{what}\nRunning instances in the"
                " group lose what it allowed at once.",
                self._later("sg.rule-delete", group.name, sgs.rule_delete, group.id, rule.id))
        else:
            self.lecs.confirm(
                f"Delete security group {group.name} and its {len(group.rules)} rules?",
                self._later("sg.delete", group.name, sgs.delete, group.id))

    def _pick_instance(self, attach: bool) -> None:
        from app.tui.screens.sg_pick import PickScreen

        group = self._group_or_warn()
        if group is None:
            return
        members = set(group.instances)
        choices = [(i.id, f"{i.name}  ({i.state.value}; groups: "
                          f"{','.join(i.security_groups) or '-'})")
                   for i in self.lecs.instances if (i.id in members) != attach]
        verb = "attach" if attach else "detach"
        if not choices:
            self.notify(f"no instance to {verb}: "
                        + ("all are in the group" if attach else "the group has none"),
                        title=group.name, severity="warning")
            return
        call = self.lecs.cloud.sgs.attach if attach else self.lecs.cloud.sgs.detach
        names = {i.id: i.name for i in self.lecs.instances}

        def done(instance_id: str | None) -> None:
            if instance_id is not None and group is not None:
                self.lecs.run_op(f"sg.{verb}", f"{group.name} {names[instance_id]}", call,
                                 instance_id, group.id)

        title = (f"Attach {group.name} to…" if attach else f"Detach {group.name} from…")
        self.app.push_screen(PickScreen(title, choices), done)

    def action_attach(self) -> None:
        self._pick_instance(attach=True)

    def action_detach(self) -> None:
        self._pick_instance(attach=False)

    def action_keypairs(self) -> None:
        from app.tui.screens.keypair_list import KeyPairsScreen

        self.app.push_screen(KeyPairsScreen())
