"""The command palette (`ctrl+p`): every dashboard action by name, per instance and image."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from app.tui.themes import SHORT_NAMES
from app.tui.widgets.header import PANES

if TYPE_CHECKING:
    from app.tui.app import LecsApp

Command = tuple[str, str, Callable[[], object]]
INSTANCE_OPS = (
    ("start", "Start", "boot the instance"),
    ("stop", "Stop", "power the guest off cleanly"),
    ("reboot", "Reboot", "reset the guest (asks first)"),
    ("force-stop", "Force stop", "kill QEMU (asks first)"),
    ("delete", "Delete", "delete with its system disk (asks first)"),
)


def general_commands(app: LecsApp) -> Iterator[Command]:
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


def instance_commands(app: LecsApp) -> Iterator[Command]:
    for inst in app.instances:
        ref = f"{inst.name} ({inst.state.value})"
        yield f"Details {inst.name}", f"{ref}: disks, ports, events", \
            partial(app.open_detail, inst.id)
        yield f"Console {inst.name}", f"{ref}: serial console", partial(app.open_console, inst.id)
        yield f"SSH {inst.name}", f"{ref}: ssh to the forwarded port", \
            partial(app.ssh_to, inst.id)
        yield f"Tags {inst.name}", f"{ref}: edit tags", partial(app.open_tags, inst.id)
        for op, label, what in INSTANCE_OPS:
            yield f"{label} {inst.name}", f"{ref}: {what}", partial(app.instance_op, op, inst.id)
    for image in app.cloud.images.list():
        yield f"Delete image {image.name}", f"{image.id}: asks first", \
            partial(app.delete_image, image.id)


class LecsCommands(Provider):
    """Searches the general commands and one command per action and resource."""

    @property
    def lecs(self) -> LecsApp:
        from app.tui.app import LecsApp

        assert isinstance(self.app, LecsApp)
        return self.app

    def _all(self) -> list[Command]:
        # Imported on first search: the metrics commands pull in the plotting stack.
        from app.tui.screens.alarm_commands import metrics_commands
        from app.tui.screens.sg_commands import network_commands
        from app.tui.screens.storage_actions import storage_commands

        return [*general_commands(self.lecs), *instance_commands(self.lecs),
                *storage_commands(self.lecs), *network_commands(self.lecs),
                *metrics_commands(self.lecs)]

    async def discover(self) -> Hits:
        for text, help_text, command in general_commands(self.lecs):
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, command in self._all():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, text=text, help=help_text)
