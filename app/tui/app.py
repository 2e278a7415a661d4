"""The lecs dashboard: panes over `backend.Cloud`, a non-overlapping poll, operations in workers.

The App is assembled from mixins, one module each: pane_keys.py (showing panes, filter, jump,
which keys apply where), polling.py (the live inventory), sampling.py (the sampler's
pace, alarm notices, host facts), operations.py (backend calls in workers), notices.py (toasts
kept off dialogs), theme_choice.py (the theme keys), actions/ (instances, disks, images).
"""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from collections.abc import Callable, Iterator
from functools import cached_property, partial
from typing import TYPE_CHECKING, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Container
from textual.widgets import Footer

from app.tui.actions.storage import StorageActions
from app.tui.live_inventory import LiveInventory
from app.tui.notices import Notices
from app.tui.operations import OperationRunner
from app.tui.pane_keys import PANE_MODULES, PaneKeys, pane_class
from app.tui.polling import POLL_INTERVAL, InventoryPoll
from app.tui.sampling import Monitoring
from app.tui.theme_choice import ThemeChoice
from app.tui.themes import CSS_PATHS, ThemedStylesheet, load_dialog_css
from app.tui.widgets.header import PANES, HostHeader, PaneBar
from app.tui.widgets.ops import Operations, OpsBar
from app.tui.widgets.prompt import Prompt
from backend import Cloud
from backend.compute.records import Instance
from backend.inventory.records import HostFacts

if TYPE_CHECKING:
    from app.tui.commands.palette import Command, CommandSources

__all__ = ["PANE_MODULES", "LecsApp", "keys_markdown"]


def lecs_commands() -> type[Provider]:
    """The palette's provider, imported when ctrl+p first opens the palette."""
    from app.tui.commands.palette import LecsCommands

    return LecsCommands


class LecsApp(Notices, ThemeChoice, PaneKeys, InventoryPoll, Monitoring, OperationRunner,
              StorageActions):
    TITLE = "lecs"
    CSS_PATH = CSS_PATHS
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = (
        App.COMMANDS | {lecs_commands}
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(n), f"show_pane('{key}')", label, show=False,
                  tooltip=f"Show the {label} pane")
          for n, (key, label) in enumerate(PANES, start=1)),
        Binding("slash", "filter", "Filter",
                tooltip="Filter rows: words, state:running, tag:k=v"),
        Binding("colon", "jump", "Jump", show=False, tooltip="Jump to a pane by name (:disks)"),
        Binding("question_mark", "help", "Help", tooltip="This list of keys"),
        Binding("escape", "clear", "Back", show=False,
                tooltip="Back: close the prompt, clear marks, then the filter"),
        Binding("q", "quit_key", "Quit", tooltip="Quit (instances keep running)"),
        Binding("ctrl+t", "cycle_theme", "Next theme", show=False,
                tooltip="Next theme: dark, light, high contrast (kept for the next start)"),
    ]

    def __init__(
        self,
        cloud: Cloud,
        *,
        clock: Callable[[], float] = time.time,
        facts: HostFacts | None = None,
        reconcile: bool = True,
        poll_interval: float = POLL_INTERVAL,
        sampler: bool | None = None,
    ) -> None:
        """`sampler`: run the metrics sampler (default: when reconciling; the demo inventory,
        opened with reconcile=False, has no QEMU to sample and must not tick)."""
        super().__init__()
        self.guarded_errors: list[str] = []  # what Guarded caught (widgets/guard.py)
        self.cloud = cloud
        self.start_in_saved_theme()  # before the stylesheet: its variables are the theme's
        self.stylesheet = ThemedStylesheet(variables=self.get_css_variables())
        self.sampling = reconcile if sampler is None else sampler
        self._unsubscribe: Callable[[], None] | None = None
        self._sampler_started = False
        self.monitoring = False  # cloud.metrics is built after the first frame (on_ready)
        self.clock = clock
        self.facts = facts  # None until fetched off the first frame's path (a subprocess)
        self.reconcile = reconcile
        self.poll_interval = poll_interval
        self.instances: list[Instance] = []
        self.version = 0  # bumped whenever `instances` changes
        self.pane_name = PANES[0][0]
        self.ops = Operations(changed=self._ops_changed)
        self.live = LiveInventory(cloud, reconcile=reconcile, read_soon=self.refresh_soon)

    # ---- layout --------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # The first frame checks only the rows that say QEMU is up (none is shown running that
        # is not); the live thread's first read, right after it (on_ready), reconciles all.
        listing = self.cloud.instances
        self.instances = listing.list_checking_up() if self.reconcile else listing.list(False)
        self.version += 1
        yield HostHeader(self.facts, id="host")
        yield PaneBar(id="panebar")
        with Container(id="panes"):  # the other panes are mounted when first shown
            yield pane_class(self.pane_name)()
        yield OpsBar(self.ops, id="ops")
        yield Prompt(id="prompt")
        yield Footer(compact=True)

    def on_load(self) -> None:
        # No cyclic GC while the first frame is built (the inventory, rows, widgets, CSS are
        # all kept): full passes over every tracked object would only slow it. on_ready
        # freezes what is alive and turns it back on.
        gc.disable()

    def on_mount(self) -> None:
        self.query_one(HostHeader).set_instances(self.instances)
        self._schedule_poll()
        # A closed terminal (SIGHUP) or a kill (SIGTERM) ends the dashboard like `q`: the
        # operations in progress are cancelled and clean up after themselves; instances
        # keep running. Only SIGKILL leaves work for the next start's recovery.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGHUP, signal.SIGTERM):
            loop.add_signal_handler(signum, self.exit)

    def on_ready(self) -> None:
        # Host facts (a subprocess, psutil), alarm notices, the sampler and the dialogs' CSS
        # come once the first frame is up: it does not need them, and they would compete.
        load_dialog_css(self)
        if self.facts is None:
            self.load_facts()
        self._unsubscribe = self.cloud.alarms.subscribe(self._alarm_changed)
        self.monitoring = True
        self.live.watch(self.instances)  # QMP events from the running QEMUs from now on
        if self.reconcile:  # the full reconcile the first frame left out (compose)
            self.refresh_soon()
        if self.current_pane.is_mounted:  # the live columns can be filled now
            self.current_pane.refresh_data()
        if self.sampling:
            self.cloud.metrics.start(self._sample_interval())
            self._sampler_started = True
        # Everything alive at the first frame (modules, CSS, widgets, the inventory) lives
        # as long as the app: keep it out of full GC passes, which otherwise stall a frame
        # by 50-70 ms with 10,000 rows on screen.
        gc.freeze()
        gc.enable()

    async def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGHUP, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        gc.unfreeze()  # the app is going: let its objects be collected again
        gc.enable()  # in case it goes before its first frame
        await self.live.close()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._sampler_started:
            await self.cloud.metrics.stop()

    def action_help(self) -> None:
        """`?`: every key, table by table (the App hands the help its key tables)."""
        from app.tui.keys import key_tables
        from app.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen(key_tables(self.BINDINGS)))

    # ---- the command palette (ctrl+p) ------------------------------------------------
    @cached_property
    def palette_sources(self) -> CommandSources:
        """What the palette (app/tui/commands/palette.py) lists and searches: its modules are
        imported when ctrl+p first opens it, not at start."""
        from app.tui.commands.general import general_commands
        from app.tui.commands.palette import CommandSources

        return CommandSources(listed=partial(general_commands, self),
                              searched=self._palette_commands)

    def _palette_commands(self) -> Iterator[Command]:
        """Every command the palette searches: imported on the first search (the metrics
        commands pull in the plotting stack)."""
        from app.tui.commands.general import general_commands
        from app.tui.commands.instances import instance_commands
        from app.tui.commands.metrics import metrics_commands
        from app.tui.commands.network import network_commands
        from app.tui.commands.storage import storage_commands

        for commands in (general_commands, instance_commands, storage_commands,
                         network_commands, metrics_commands):
            yield from commands(self)


def keys_markdown() -> str:
    """The README's key table (docs/keys.md is generated from this): `?`'s tables as Markdown."""
    from app.tui.keys import key_tables, markdown

    return markdown(key_tables(LecsApp.BINDINGS))
