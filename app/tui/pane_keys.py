"""The App's pane keys (a mixin): digits and `:` show a pane (its module imported when first
shown), `/` filters, esc clears marks then the filter, `q` quits; and
which keys apply where (not under a dialog, not into a console, not while typing a prompt)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from textual.containers import Container

from app.tui.panes.base import Pane
from app.tui.widgets.header import PaneBar
from app.tui.widgets.prompt import Prompt

if TYPE_CHECKING:
    from textual.app import App

    from backend import Cloud

    AppBase = App[None]
else:
    AppBase = object  # a mixin of LecsApp: no second App subclass to build at start

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


class PaneKeys(AppBase):
    cloud: Cloud
    pane_name: str
    sampling: bool

    if TYPE_CHECKING:
        def _sample_interval(self) -> float: ...

    @property
    def current_pane(self) -> Pane:
        return self.query_one(f"#{self.pane_name}", Pane)

    def pane(self, name: str) -> Pane:
        return self.query_one(f"#{name}", Pane)

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
        if len(self.screen_stack) != 1:
            return False
        prompts = self.screen_stack[0].query_children(Prompt)
        return bool(prompts) and prompts.first().display

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

    def on_prompt_filter(self, message: Prompt.Filter) -> None:
        self.current_pane.set_filter(message.text)

    def on_prompt_jump(self, message: Prompt.Jump) -> None:
        if message.pane is None:
            self.notify(f"no pane called {message.text!r}", severity="warning")
        else:
            self.action_show_pane(message.pane)

    def on_prompt_closed(self) -> None:
        self.current_pane.focus_table()
