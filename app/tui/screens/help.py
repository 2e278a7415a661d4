"""`?`: every key binding, read from the classes that define them (so it cannot drift)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEY_NAMES = {
    "slash": "/", "colon": ":", "question_mark": "?", "space": "space", "escape": "esc",
    "enter": "enter", "ctrl+right_square_bracket": "ctrl+]", "pageup": "pgup",
    "pagedown": "pgdn",
}
FILTER_HELP = [
    ("web", "rows containing 'web' in any column"),
    ("state:running", "rows in that state (a prefix works: state:stop)"),
    ("tag:env=prod", "rows tagged env=prod; tag:env for any value"),
    ("type:t1.nano", "any column by name: name, id, type, image, action, result…"),
]


def key_label(keys: str) -> str:
    return " / ".join(KEY_NAMES.get(k, k) for k in keys.split(","))


def _rows(bindings: list[BindingType]) -> list[tuple[str, str]]:
    out = []
    for b in bindings:
        if isinstance(b, Binding):
            out.append((key_label(b.key), b.tooltip or b.description or b.action))
        elif isinstance(b, tuple):
            out.append((key_label(b[0]), b[2] if len(b) > 2 else b[1]))
    return out


def key_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    from app.tui.app import LecsApp
    from app.tui.panes.disks import DisksPane
    from app.tui.panes.images import ImagesPane
    from app.tui.panes.instances import InstancesPane
    from app.tui.panes.metrics import MetricsPane
    from app.tui.panes.security_groups import SecurityGroupsPane
    from app.tui.screens.confirm import ConfirmScreen
    from app.tui.screens.console import ConsoleScreen
    from app.tui.screens.create_instance import CreateInstanceScreen
    from app.tui.screens.disk_detail import DiskDetailScreen
    from app.tui.screens.instance_detail import InstanceDetailScreen
    from app.tui.screens.keypair_list import KeyPairsScreen
    from app.tui.widgets.vtable import VirtualTable

    global_rows = _rows(LecsApp.BINDINGS) + [
        ("ctrl+p", "Command palette: every action, by name"),
        ("ctrl+q", "Quit (instances keep running)"),
    ]
    table_rows = _rows(VirtualTable.BINDINGS) + [
        ("enter / double click", "Open: console if running, else details"),
        ("click", "Move the cursor"),
    ]
    return [
        ("Everywhere", global_rows),
        ("Tables", table_rows),
        ("Instances pane", _rows(InstancesPane.BINDINGS)),
        ("Images pane", _rows(ImagesPane.BINDINGS)),
        ("Disks pane", _rows(DisksPane.BINDINGS)),
        ("Disk details (snapshot tree)", _rows(DiskDetailScreen.BINDINGS)),
        ("Security groups pane", _rows(SecurityGroupsPane.BINDINGS) + [
            ("tab", "Next table: groups, the selected group's rules, open ports"),
            ("enter", "On a group: go to its rules")]),
        ("Key pairs (p on Security groups)", _rows(KeyPairsScreen.BINDINGS)),
        ("Metrics pane", _rows(MetricsPane.BINDINGS) + [
            ("tab", "Next table: the fleet (its cursor picks the charts), the alarm list")]),
        ("Instance details", _rows(InstanceDetailScreen.BINDINGS)),
        ("Serial console", _rows(ConsoleScreen.BINDINGS)),
        ("Dialogs", _rows(CreateInstanceScreen.BINDINGS) + _rows(ConfirmScreen.BINDINGS)),
        ("Filter prompt (/)", [("enter", "Keep the filter"), ("esc", "Clear the filter"),
                               *FILTER_HELP]),
        ("Jump prompt (:)", [("enter", "Go to the pane: :instances :images :disks :sg "
                                       ":metrics :events (prefixes work)"),
                             ("esc", "Cancel")]),
    ]


def keys_markdown() -> str:
    """The README's key table (docs/keys.md is generated from this)."""
    lines = ["## Keys", "", "`lecs` with no arguments opens the dashboard. Every action is on a "
             "key and in the command palette (`ctrl+p`); the mouse works too.", ""]
    for title, rows in key_sections():
        lines += [f"### {title}", "", "| key | action |", "| --- | --- |"]
        lines += [f"| `{key}` | {what} |" for key, what in rows]
        lines.append("")
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self) -> None:
        super().__init__(classes="modal")

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help-dialog"):
            yield Static("[b]Keys[/b] · esc closes", classes="dialog-title")
            for title, rows in key_sections():
                table = Table(title=title, title_justify="left", title_style="bold",
                              show_header=False, box=None, padding=(0, 2, 0, 0))
                table.add_column(style="bold", min_width=14, no_wrap=True)
                table.add_column()
                for key, what in rows:
                    table.add_row(key, what)
                yield Static(table, classes="help-section")

    def on_mount(self) -> None:
        self.query_one("#help-dialog").focus()
