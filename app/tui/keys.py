"""Every key binding of the dashboard, table by table, read from the classes that define them
(so `?` and docs/keys.md cannot drift): the App hands in its own, the panes' and screens' are
read here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual.binding import Binding, BindingType

if TYPE_CHECKING:
    from app.tui.screens.help import KeyTable

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


def rows(bindings: Sequence[BindingType]) -> list[tuple[str, str]]:
    out = []
    for b in bindings:
        if isinstance(b, Binding):
            out.append((key_label(b.key), b.tooltip or b.description or b.action))
        elif isinstance(b, tuple):
            out.append((key_label(b[0]), b[2] if len(b) > 2 else b[1]))
    return out


def key_tables(everywhere: Sequence[BindingType]) -> list[KeyTable]:
    """`everywhere`: the App's own bindings. The panes and screens are imported here, not at
    start: the help is opened seldom, and a pane's module loads when the pane is first shown."""
    from app.tui.panes.disks import DisksPane
    from app.tui.panes.images import ImagesPane
    from app.tui.panes.instances import InstancesPane
    from app.tui.panes.metrics import MetricsPane
    from app.tui.panes.security_groups import SecurityGroupsPane
    from app.tui.screens.backup_list import BackupsScreen
    from app.tui.screens.confirm import ConfirmScreen
    from app.tui.screens.console import ConsoleScreen
    from app.tui.screens.console_log import ConsoleLogScreen
    from app.tui.screens.create_instance import CreateInstanceScreen
    from app.tui.screens.disk_detail import DiskDetailScreen
    from app.tui.screens.instance_detail import InstanceDetailScreen
    from app.tui.screens.keypair_list import KeyPairsScreen
    from app.tui.widgets.vtable import VirtualTable

    global_rows = rows(everywhere) + [
        ("ctrl+p", "Command palette: every action, by name"),
        ("ctrl+q", "Quit (instances keep running)"),
    ]
    table_rows = rows(VirtualTable.BINDINGS) + [
        ("enter / double click", "Open: console if running, else details"),
        ("click", "Move the cursor"),
    ]
    return [
        ("Everywhere", global_rows),
        ("Tables", table_rows),
        ("Instances pane", rows(InstancesPane.BINDINGS)),
        ("Images pane", rows(ImagesPane.BINDINGS)),
        ("Disks pane", rows(DisksPane.BINDINGS)),
        ("Disk details (snapshot tree)", rows(DiskDetailScreen.BINDINGS)),
        ("Backups (B on Disks)", rows(BackupsScreen.BINDINGS)),
        ("Security groups pane", rows(SecurityGroupsPane.BINDINGS) + [
            ("tab", "Next table: groups, the selected group's rules, open ports"),
            ("enter", "On a group: go to its rules")]),
        ("Key pairs (p on Security groups)", rows(KeyPairsScreen.BINDINGS)),
        ("Metrics pane", rows(MetricsPane.BINDINGS) + [
            ("tab", "Next table: the fleet (its cursor picks the charts), the alarm list")]),
        ("Events pane", [("enter", "The whole event: every field, parameters, the error"),
                         ("g", "Newest first: the title's 'N new' counts the ones above")]),
        ("Instance details", rows(InstanceDetailScreen.BINDINGS)),
        ("Serial console", rows(ConsoleScreen.BINDINGS)),
        ("Console output (L on Instances)", rows(ConsoleLogScreen.BINDINGS)),
        ("Dialogs", rows(CreateInstanceScreen.BINDINGS) + rows(ConfirmScreen.BINDINGS)),
        ("Filter prompt (/)", [("enter", "Keep the filter"), ("esc", "Clear the filter"),
                               *FILTER_HELP]),
        ("Jump prompt (:)", [("enter", "Go to the pane: :instances :images :disks :sg "
                                       ":metrics :events (prefixes work)"),
                             ("esc", "Cancel")]),
    ]


def markdown(tables: list[KeyTable]) -> str:
    """The key tables as the README's and docs/keys.md's Markdown."""
    lines = ["## Keys", "", "`lecs` with no arguments opens the dashboard. Every action is on a "
             "key and in the command palette (`ctrl+p`); the mouse works too.", ""]
    for title, table in tables:
        lines += [f"### {title}", "", "| key | action |", "| --- | --- |"]
        lines += [f"| `{key}` | {what} |" for key, what in table]
        lines.append("")
    return "\n".join(lines)
