"""The bottom prompt: `/` filters the current pane as you type, `:` jumps to a pane by name."""

from __future__ import annotations

from typing import ClassVar, Literal

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label

from app.tui.widgets.guard import Guarded
from app.tui.widgets.header import PANES

Mode = Literal["filter", "jump"]
ALIASES = {
    "i": "instances", "in": "instances", "vm": "instances", "vms": "instances",
    "ecs": "instances", "img": "images", "ims": "images", "d": "disks", "evs": "disks",
    "sg": "security-groups", "sgs": "security-groups", "security": "security-groups",
    "secgroups": "security-groups", "m": "metrics", "ces": "metrics", "e": "events",
    "ev": "events", "audit": "events", "trace": "events",
}
NAMES = [key for key, _ in PANES]


def resolve_pane(text: str) -> str | None:
    """`disks`, `dis`, `sg`, `:events` → a pane name; None if nothing fits."""
    word = text.strip().lstrip(":").lower().replace(" ", "-")
    if not word:
        return None
    if word in NAMES:
        return word
    if word in ALIASES:
        return ALIASES[word]
    found = [name for name in NAMES if name.startswith(word)]
    return found[0] if len(found) == 1 else None


class Prompt(Guarded, Horizontal):
    """Hidden until `/` or `:`; `enter` keeps the result, `esc` cancels. The footer says so
    in the words of the open mode (the App hides its own keys meanwhile: they type here)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", "Keep filter", priority=True),
        Binding("escape", "cancel", "Clear filter", priority=True),
        Binding("enter", "submit_jump", "Go to pane", priority=True),
        Binding("escape", "cancel_jump", "Cancel", priority=True),
    ]

    class Filter(Message):
        def __init__(self, text: str, final: bool) -> None:
            super().__init__()
            self.text = text
            self.final = final

    class Jump(Message):
        def __init__(self, pane: str | None, text: str) -> None:
            super().__init__()
            self.pane = pane
            self.text = text

    class Closed(Message):
        pass

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.mode: Mode = "filter"
        self._before = ""

    def compose(self) -> ComposeResult:
        yield Label("/", id="prompt-sigil")  # the Input is mounted on first use


    def on_mount(self) -> None:
        self.display = False

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    async def open(self, mode: Mode, value: str = "") -> None:
        if not self.query(Input):
            await self.mount(Input(id="prompt-input", compact=True, select_on_focus=False))
        self.mode = mode
        self._before = value
        self.query_one("#prompt-sigil", Label).update("/" if mode == "filter" else ":")
        self.input.suggester = SuggestFromList(NAMES) if mode == "jump" else None
        self.input.placeholder = (
            "filter: words, state:running, tag:k=v" if mode == "filter"
            else "pane: instances images disks security-groups metrics events"
        )
        self.input.value = value
        self.input.cursor_position = len(value)
        self.display = True
        self.input.focus()
        self.refresh_bindings()

    def close(self) -> None:
        self.display = False
        self.post_message(self.Closed())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in {"submit", "cancel"}:
            return self.mode == "filter"
        if action in {"submit_jump", "cancel_jump"}:
            return self.mode == "jump"
        return True

    async def action_submit(self) -> None:
        await self.input.action_submit()

    async def action_submit_jump(self) -> None:
        await self.input.action_submit()

    def action_cancel(self) -> None:
        self._escape()

    def action_cancel_jump(self) -> None:
        self._escape()

    def _escape(self) -> None:
        if self.mode == "filter":
            self.post_message(self.Filter("", final=True))
        self.close()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.mode == "filter" and self.display:
            self.post_message(self.Filter(event.value, final=False))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.mode == "filter":
            self.post_message(self.Filter(event.value, final=True))
        else:
            self.post_message(self.Jump(resolve_pane(event.value), event.value))
        self.close()

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape":
            event.stop()
            event.prevent_default()
            self._escape()
