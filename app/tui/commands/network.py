"""Palette commands for security groups and key pairs (each runs the pane's own key)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.tui.commands.palette import Command, Controls

PANE = "security-groups"
GROUP_OPS = (
    ("add_rule", "Add rule to {name}", "a rule, applied live (a)"),
    ("attach", "Attach {name} to an instance", "pick the instance (t)"),
    ("detach", "Detach {name} from an instance", "pick the instance (T)"),
    ("delete", "Delete security group {name}", "asks first (D)"),
)


def open_keypairs(app: Controls) -> None:
    """The key pairs list, over the pane on screen (`p` on Security groups)."""
    from app.tui.screens.keypair_list import KeyPairsScreen

    app.push_screen(KeyPairsScreen())


def in_pane(app: Controls, action: str, group_id: str = "") -> None:
    """Show the Security groups pane, put the cursor on the group, run the pane's action."""
    from app.tui.panes.security_groups import SecurityGroupsPane

    app.action_show_pane(PANE)

    def run() -> None:
        pane = app.pane(PANE)
        assert isinstance(pane, SecurityGroupsPane)
        pane.select_group(group_id)
        getattr(pane, f"action_{action}")()

    app.call_after_refresh(run)


def network_commands(app: Controls) -> Iterator[Command]:
    yield "Key pairs", "list, import, generate, delete (p on Security groups)", \
        partial(open_keypairs, app)
    yield "Create security group", "denies all ingress, allows all egress (n on Security " \
        "groups)", partial(in_pane, app, "create_group")
    for group in app.cloud.sgs.list():
        for action, text, what in GROUP_OPS:
            yield text.format(name=group.name), f"{group.id}: {what}", \
                partial(in_pane, app, action, group.id)
