"""The lecs dashboard: panes over `backend.Cloud`, a non-overlapping poll, operations in workers."""

from __future__ import annotations

import asyncio
import gc
import importlib
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Container
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Footer
from textual.worker import Worker, WorkerState, get_current_worker

from app.tui import theme_choice
from app.tui.actions.storage import StorageActions
from app.tui.commands.general import general_commands
from app.tui.commands.palette import CommandSources, LecsCommands
from app.tui.live_inventory import LiveInventory
from app.tui.panes.base import Pane
from app.tui.themes import CSS_PATHS, THEMES, ThemedStylesheet, default_theme
from app.tui.widgets.header import PANES, HostHeader, PaneBar
from app.tui.widgets.ops import Operations, OpsBar
from app.tui.widgets.prompt import Prompt
from backend import Cloud
from backend.api.presence import running as serve_running
from backend.compute.records import Instance
from backend.inventory.errors import LecsError
from backend.inventory.records import HostFacts, InstanceState

if TYPE_CHECKING:
    from app.tui.commands.palette import Command
    from backend.monitoring.records import AlarmChange, MetricSample

POLL_INTERVAL = 0.5
LIVE_PANES = {"metrics", "instances"}  # the sampler ticks each second while one is shown
SAMPLE_LIVE, SAMPLE_IDLE = 1.0, 10.0
MAIN_ONLY = {"filter", "jump", "show_pane", "clear"}
TYPED_KEYS = {"filter", "jump", "help", "quit_key", "show_pane", "clear"}  # hidden under the prompt
PANE_MODULES = {  # pane name → (module, class); a pane's module is imported when first shown
    "instances": ("app.tui.panes.instances", "InstancesPane"),
    "images": ("app.tui.panes.images", "ImagesPane"),
    "disks": ("app.tui.panes.disks", "DisksPane"),
    "security-groups": ("app.tui.panes.security_groups", "SecurityGroupsPane"),
    "metrics": ("app.tui.panes.metrics", "MetricsPane"),
    "events": ("app.tui.panes.events", "EventsPane"),
}


def pane_class(name: str) -> type[Pane]:
    module, attr = PANE_MODULES[name]
    cls: type[Pane] = getattr(importlib.import_module(module), attr)
    return cls


class LecsApp(StorageActions):
    TITLE = "lecs"
    CSS_PATH = CSS_PATHS
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = (
        App.COMMANDS | {LecsCommands}
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
        self.stylesheet = ThemedStylesheet(variables=self.get_css_variables())
        self.sampling = reconcile if sampler is None else sampler
        self._unsubscribe: Callable[[], None] | None = None
        self._sampler_started = False
        self.monitoring = False  # cloud.metrics is built after the first frame (on_ready)
        self.cloud = cloud
        self.clock = clock
        self.facts = facts  # None until fetched off the first frame's path (a subprocess)
        self.reconcile = reconcile
        self.poll_interval = poll_interval
        self.instances: list[Instance] = []
        self.version = 0  # bumped whenever `instances` changes
        self.pane_name = PANES[0][0]
        self.ops = Operations(changed=self._ops_changed)
        self.live = LiveInventory(cloud, reconcile=reconcile, read_soon=self.refresh_soon)
        self._poll_timer: Timer | None = None
        self._polling = False  # a read is in flight
        self._poll_again = False  # a QMP event came during it: read again right after
        self._last_error = ""
        self.palette_sources = CommandSources(listed=partial(general_commands, self),
                                              searched=self._palette_commands)
        for theme in THEMES.values():
            self.register_theme(theme)
        self.theme = default_theme(saved=theme_choice.load(cloud.paths.home))

    # ---- layout --------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        self.instances = self.cloud.instances.list(reconcile=self.reconcile)
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
        # Host facts (a subprocess, psutil), alarm notices and the sampler start once the
        # first frame is up: it does not need them, and they would compete with it.
        if self.facts is None:
            self.load_facts()
        self._unsubscribe = self.cloud.alarms.subscribe(self._alarm_changed)
        self.monitoring = True
        self.live.watch(self.instances)  # QMP events from the running QEMUs from now on
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
        if self.sampling:
            await self.cloud.metrics.stop()

    # ---- monitoring: the sampler's pace, alarm notices ------------------------------
    def latest_samples(self) -> dict[str, MetricSample]:
        """Newest sample per resource for live columns; none before the first frame is up
        (monitoring, and its imports, start after it: the first poll fills the column)."""
        return self.cloud.metrics.latest() if self.monitoring else {}

    def not_answering(self) -> set[str]:
        if not self.monitoring:
            return set()
        return {key for key in self.cloud.metrics.status().errors if key != "sampler"}

    def _sample_interval(self) -> float:
        return SAMPLE_LIVE if self.pane_name in LIVE_PANES else SAMPLE_IDLE

    def _alarm_changed(self, change: AlarmChange) -> None:
        """A rule changed state (called on this loop by the sampler): pop a notice."""
        from backend.monitoring.records import AlarmState
        severity: SeverityLevel = (
            "error" if change.new is AlarmState.ALARM
            else "information" if change.new is AlarmState.OK else "warning")
        title = f"alarm {change.name}: {change.new.value.upper()}"
        self.notify(change.reason, title=title + (" (still)" if change.repeat else ""),
                    severity=severity, timeout=10)

    @work(exclusive=True, exit_on_error=False, group="facts", description="host facts")
    async def load_facts(self) -> None:
        self.facts = await asyncio.to_thread(self.cloud.host_facts)
        self.query_one(HostHeader).set_facts(self.facts)
        if self.pane_name == "metrics" and self.current_pane.is_mounted:
            self.current_pane.refresh_data()

    @property
    def current_pane(self) -> Pane:
        return self.query_one(f"#{self.pane_name}", Pane)

    def pane(self, name: str) -> Pane:
        return self.query_one(f"#{name}", Pane)

    # ---- live data: a poll that never overlaps itself, nudged by QMP events ----------
    def _schedule_poll(self, delay: float | None = None) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
        self._poll_timer = self.set_timer(delay or self.poll_interval, self.poll)

    @work(exclusive=True, exit_on_error=False, group="poll", description="refresh inventory")
    async def poll(self) -> None:
        """Read the inventory in the live thread (app/tui/live_inventory.py), then show it."""
        self._polling = True
        try:
            self._show(*await self.live.read())
        finally:
            self._polling = False
            again, self._poll_again = self._poll_again, False
            self._schedule_poll(0.01 if again else None)  # set_timer(0) never fires

    def refresh_soon(self) -> None:
        """Read the inventory again now (an operation ended, QMP events came), in the live
        thread like every read; if a read is in flight, right after it."""
        if self._polling:
            self._poll_again = True
        else:
            self._schedule_poll(0.01)

    def _show(self, number: int, instances: list[Instance]) -> None:
        if not self.live.accept(number):  # an older read than the one on screen
            return
        self.live.watch(instances)
        if instances != self.instances:
            self._announce(instances)
            self.instances = instances
            self.version += 1
        self.query_one(HostHeader).set_instances(instances)
        serve = serve_running(self.cloud.paths)
        self.query_one(HostHeader).set_serve(serve.address if serve else "")
        self._last_error = ""
        pane = self.current_pane
        if len(self.screen_stack) == 1 and pane.is_mounted:  # not under a modal or console
            pane.refresh_data()

    def _announce(self, instances: list[Instance]) -> None:
        before = {i.id: i.state for i in self.instances}
        for inst in instances:
            was = before.get(inst.id)
            if was is not None and was != inst.state and inst.state is InstanceState.ERROR:
                self.notify(inst.last_error or "entered the error state",
                            title=f"{inst.name}: error", severity="error", timeout=10)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        message = str(error) if isinstance(error, LecsError) else f"{type(error).__name__}: {error}"
        if message != self._last_error:  # a failing poll reports once, not twice a second
            self._last_error = message
            self.notify(message, title=event.worker.description or "error", severity="error")

    # ---- operations in workers -----------------------------------------------------
    @work(group="ops", exit_on_error=False, description="operation")
    async def run_op(
        self, action: str, resource: str, call: Callable[..., Any], *args: Any,
        progress: bool = False, cancellable: bool = False, **kwargs: Any,
    ) -> None:
        op = self.ops.begin(action, resource,
                            cancel=get_current_worker().cancel if cancellable else None)
        if progress:
            loop = asyncio.get_running_loop()
            kwargs["progress"] = lambda fraction, label: loop.call_soon_threadsafe(
                self.ops.progress, op, fraction, label)
        started = time.monotonic()
        verb = action.split(".")[-1]
        try:
            result = call(*args, **kwargs)
            if isinstance(result, Awaitable):
                await result
        except LecsError as exc:
            self.notify(str(exc), title=f"{verb} {resource} failed", severity="error", timeout=8)
        except asyncio.CancelledError:
            self.notify(f"{verb} {resource}: cancelled", title=action, severity="warning")
            raise
        else:
            self.notify(f"{verb} {resource}: done in {time.monotonic() - started:.1f}s",
                        title=action)
        finally:
            self.ops.end(op)
            self.refresh_soon()

    def _ops_changed(self) -> None:
        for bar in self.query(OpsBar):
            bar.sync()
        if self.is_running and self.pane_name == "events" and self.current_pane.is_mounted:
            self.current_pane.refresh_data()

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """A toast, or while a dialog is open a line above it (widgets/dialog_notice.py):
        never over the dialog's fields and buttons."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)
        screen = self.screen_stack[-1] if self.screen_stack else None
        if isinstance(screen, ModalScreen) and screen.has_class("modal"):
            from app.tui.widgets.dialog_notice import DialogNotice

            notices = screen.query(DialogNotice)
            notice = notices.first() if notices else DialogNotice()
            if not notices:
                screen.mount(notice)
            notice.show(message, title, severity, timeout, markup)

    def set_theme(self, name: str) -> None:
        self.theme = name
        self._save_theme()

    def _save_theme(self) -> None:
        try:
            theme_choice.save(self.cloud.paths.home, self.theme)
        except OSError as exc:
            self.notify(f"theme not saved: {exc.strerror}", severity="warning")

    def _palette_commands(self) -> Iterator[Command]:
        """Every command the palette searches: imported on the first search (the metrics
        commands pull in the plotting stack)."""
        from app.tui.commands.instances import instance_commands
        from app.tui.commands.metrics import metrics_commands
        from app.tui.commands.network import network_commands
        from app.tui.commands.storage import storage_commands

        for commands in (general_commands, instance_commands, storage_commands,
                         network_commands, metrics_commands):
            yield from commands(self)

    # ---- key actions ---------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Pane keys (filter, jump, digits, esc) apply only while the panes are on screen."""
        if action in MAIN_ONLY and len(self.screen_stack) > 1:
            return False
        if getattr(self.screen, "TAKES_KEYS", False) and action != "quit":
            return False  # a console: every key goes to the guest (ctrl+q still quits)
        if action in TYPED_KEYS and self._prompt_open():
            return False  # typed into the prompt: not the App's keys meanwhile
        return True

    def _prompt_open(self) -> bool:
        prompts = self.screen_stack[0].query_children(Prompt) if self.screen_stack else None
        return bool(prompts) and prompts.first().display and len(self.screen_stack) == 1

    def action_show_pane(self, name: str) -> None:
        self.query_one(Prompt).display = False
        container = self.query_one("#panes", Container)
        for pane in container.query_children(Pane):
            pane.display = pane.NAME == name
        self.pane_name = name
        self.query_one(PaneBar).show(name)
        if self.sampling:
            self.cloud.metrics.set_interval(self._sample_interval())
        found = container.query_children(f"#{name}")
        if not found:
            container.mount(pane_class(name)())  # refreshes and focuses itself on mount
            return
        pane = found.first(Pane)
        if pane.is_mounted:
            pane.refresh_data()
            pane.focus_table()

    async def action_filter(self) -> None:
        await self.query_one(Prompt).open("filter", self.current_pane.table.filter_text)

    async def action_jump(self) -> None:
        await self.query_one(Prompt).open("jump")

    def action_help(self) -> None:
        from app.tui.keys import key_tables
        from app.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen(key_tables(self.BINDINGS)))

    def action_clear(self) -> None:
        table = self.current_pane.table
        if table.clear_marks():
            self.current_pane.update_title()
        elif table.filter_text:
            self.clear_filter()

    def clear_filter(self) -> None:
        self.current_pane.set_filter("")

    async def action_quit_key(self) -> None:
        """`q`: quit; a separate action from ctrl+q's so that the prompt and the console can
        take the letter while ctrl+q still quits."""
        await self.action_quit()

    def action_cycle_theme(self) -> None:
        names = list(THEMES)
        current = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(current + 1) % len(names)]
        self._save_theme()
        self.notify(f"theme: {self.theme}")

    def on_prompt_filter(self, message: Prompt.Filter) -> None:
        self.current_pane.set_filter(message.text)

    def on_prompt_jump(self, message: Prompt.Jump) -> None:
        if message.pane is None:
            self.notify(f"no pane called {message.text!r}", severity="warning")
        else:
            self.action_show_pane(message.pane)

    def on_prompt_closed(self) -> None:
        self.current_pane.focus_table()


def keys_markdown() -> str:
    """The README's key table (docs/keys.md is generated from this): `?`'s tables as Markdown."""
    from app.tui.keys import key_tables, markdown

    return markdown(key_tables(LecsApp.BINDINGS))
