"""Add a rule to a security group, each field checked by the backend's own parsers.

The per-field messages come from `backend.network.rules` (parse_ports, parse_cidr,
parse_priority) and the whole rule goes through `rules.build` before the dialog closes, so
an error here reads exactly as the CLI's. Whether the instances' networking mode can
enforce the rule is decided by the backend when it is added (a notification if not).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from app.tui.screens.form import SubmitCancel
from app.tui.widgets.guard import Guarded
from backend.inventory.errors import ValidationError
from backend.network import rules
from backend.network.records import Action, Direction, Protocol, SecurityGroup
from backend.network.rules import RuleInput

CHECKS = ("ports", "cidr", "priority", "rule")
DEFAULT_CIDR = {"ingress": rules.LOOPBACK, "egress": rules.ANY}
HINT = ("User mode (default) forwards ingress allow rules from 127.0.0.1/32 (this host) or "
        "0.0.0.0/0 (anyone); egress to 0.0.0.0/0 is the outside world, never this host: "
        "egress all to 127.0.0.1/32 opens the host's loopback. Other CIDRs, peer groups and "
        "per-port egress need bridge mode.")


def _error(check: Callable[..., object], *args: Any) -> str:
    try:
        check(*args)
    except ValidationError as exc:
        return str(exc)
    return ""


def check_rule(spec: RuleInput, group_id: str, remote_id: str = "") -> dict[str, str]:
    """Errors by field (ports, cidr, priority, rule), as the backend words them; {} if valid."""
    errors = {
        "ports": _error(rules.parse_ports, spec.ports, Protocol(spec.protocol)),
        "cidr": (_error(rules.parse_cidr, spec.cidr) if not remote_id
                 else "give a CIDR or a remote group, not both" if spec.cidr.strip() else ""),
        "priority": _error(rules.parse_priority, spec.priority),
    }
    if not any(errors.values()):
        errors["rule"] = _error(rules.build, spec, "r-check", group_id, remote_id)
    return {k: v for k, v in errors.items() if v}


def _options(kind: type[Direction] | type[Protocol] | type[Action]) -> list[tuple[str, str]]:
    return [(m.value, m.value) for m in kind]


class AddRuleScreen(Guarded, SubmitCancel, ModalScreen[RuleInput | None]):
    SUBMIT_BUTTON = "add"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("ctrl+s", "submit", "Add", show=False),
    ]

    def __init__(self, group: SecurityGroup, groups: list[SecurityGroup]) -> None:
        super().__init__(classes="modal")
        self.group = group
        self.groups = groups

    def compose(self) -> ComposeResult:
        peers = [(g.name, g.id) for g in self.groups]
        with Vertical(classes="dialog", id="rule-dialog"):
            yield Static(f"[b]Add rule to {self.group.name}[/b]", classes="dialog-title")
            with Horizontal(classes="form-row"):
                yield Label("Direction", classes="form-label")
                yield Select(_options(Direction), value="ingress", allow_blank=False,
                             id="direction", compact=True)
                yield Label("Protocol", classes="form-label")
                yield Select(_options(Protocol), value="tcp", allow_blank=False,
                             id="protocol", compact=True)
            with Horizontal(classes="form-row"):
                yield Label("Ports", classes="form-label")
                yield Input(placeholder="80, 8000-8080 or all", id="ports", compact=True)
                yield Label("Action", classes="form-label")
                yield Select(_options(Action), value="allow", allow_blank=False, id="action",
                             compact=True)
            yield Label("", id="ports-error", classes="field-error")
            with Horizontal(classes="form-row"):
                yield Label("Source CIDR", id="cidr-label", classes="form-label")
                yield Input(rules.LOOPBACK, placeholder=rules.ANY, id="cidr", compact=True)
                yield Label("Priority", classes="form-label")
                yield Input("1", placeholder="1-100", id="priority", compact=True)
            yield Label("", id="cidr-error", classes="field-error")
            yield Label("", id="priority-error", classes="field-error")
            with Horizontal(classes="form-row"):
                yield Label("Peer group", classes="form-label")
                yield Select(peers, prompt="none: use the CIDR", id="peer", compact=True)
            with Horizontal(classes="form-row"):
                yield Label("Description", classes="form-label")
                yield Input(placeholder="optional", id="description", compact=True)
            yield Label("", id="rule-error", classes="field-error")
            yield Label(HINT, classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Add (ctrl+s)", id="add", variant="primary", compact=True)

    def on_mount(self) -> None:
        for check in CHECKS:
            self.query_one(f"#{check}-error", Label).display = False
        self.query_one("#ports", Input).focus()

    # ---- reading the form ----------------------------------------------------------
    def _value(self, field: str) -> str:
        widget = self.query_one(f"#{field}")
        if isinstance(widget, Select):
            return "" if widget.value is Select.NULL else str(widget.value)
        assert isinstance(widget, Input)
        return widget.value

    def spec(self) -> RuleInput:
        return RuleInput(
            direction=self._value("direction"), protocol=self._value("protocol"),
            ports=self._value("ports").strip(), cidr=self._value("cidr").strip(),
            action=self._value("action"), priority=self._value("priority").strip(),
            description=self._value("description"), remote_group=self._value("peer"),
        )

    def show_errors(self, only: set[str] | None = None) -> dict[str, str]:
        """Check the form; show the errors of the fields in `only` (all if None)."""
        spec = self.spec()
        errors = check_rule(spec, self.group.id, spec.remote_group)
        for check in CHECKS:
            if only is not None and check not in only:
                continue
            label = self.query_one(f"#{check}-error", Label)
            label.update(errors.get(check, ""))
            label.display = check in errors
        return errors

    # ---- live checks ---------------------------------------------------------------
    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        self.show_errors({event.input.id or "", "rule"} & set(CHECKS))

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        field = event.select.id
        if field == "direction":
            direction = str(event.value)
            self.query_one("#cidr-label", Label).update(
                "Source CIDR" if direction == "ingress" else "Dest. CIDR")
            cidr = self.query_one("#cidr", Input)
            if cidr.value in DEFAULT_CIDR.values():
                cidr.value = DEFAULT_CIDR.get(direction, rules.ANY)
        elif field == "peer" and event.value is not Select.NULL:
            self.query_one("#cidr", Input).value = ""
        if self.query_one("#ports", Input).value:
            self.show_errors({"ports", "cidr", "rule"})

    def action_submit(self) -> None:
        errors = self.show_errors()
        if errors:
            first = next(iter(errors))
            if first != "rule":
                self.query_one(f"#{first}", Input).focus()
            return
        self.dismiss(self.spec())
