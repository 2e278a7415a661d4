"""Palette commands that need no resource: panes, create and import dialogs, filter, help,
themes, quit (the ones the palette lists before anything is typed)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from app.tui.themes import SHORT_NAMES
from app.tui.widgets.header import PANES

if TYPE_CHECKING:
    from app.tui.commands.palette import Command, Controls


def general_commands(app: Controls) -> Iterator[Command]:
    for number, (key, label) in enumerate(PANES, start=1):
        yield f"Go to {label}", f"show the {label} pane (key {number})", \
            partial(app.action_show_pane, key)
    yield "Create instance", "open the create dialog (n)", app.open_create_instance
    yield "Import image", "import a disk image from a file or URL (n on Images)", \
        app.open_import_image
    yield "Create image from instance", "from a stopped instance (c on Images)", app.create_image
    yield "Create disk", "a new data disk (n on Disks)", app.create_disk
    yield "Filter rows", "filter the current pane (/)", app.action_filter
    yield "Clear filter", "show all rows again", app.clear_filter
    yield "Jump to pane", "go to a pane by name (:)", app.action_jump
    yield "Help: keys", "every key binding (?)", app.action_help
    for short, name in SHORT_NAMES.items():
        yield f"Theme: {short}", f"switch to the {name} theme", partial(app.set_theme, name)
    yield "Quit", "leave the dashboard; instances keep running (q)", app.action_quit

