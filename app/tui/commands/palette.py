"""The command palette's provider (`ctrl+p`): it lists and searches the commands the App
registered (`CommandSources`); the command modules beside this one make them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from app.tui.dashboard import Dashboard

if TYPE_CHECKING:
    from textual.screen import Screen

    from app.tui.panes.base import Pane

Command = tuple[str, str, Callable[[], object]]  # title, help, what it runs
Source = Callable[[], Iterable[Command]]


@dataclass(frozen=True, slots=True)
class CommandSources:
    """What the App hands the palette: the commands listed before anything is typed, and all the
    commands a search looks through (made afresh each time: the inventory changes)."""

    listed: Source
    searched: Source


class Controls(Dashboard, Protocol):
    """The App as the commands drive it: what a pane may use, and the App's own key actions."""

    def action_show_pane(self, name: str) -> None: ...

    def pane(self, name: str) -> Pane: ...

    async def action_filter(self) -> None: ...

    def clear_filter(self) -> None: ...

    async def action_jump(self) -> None: ...

    def action_help(self) -> None: ...

    def set_theme(self, name: str) -> None: ...

    async def action_quit(self) -> None: ...

    def instance_op(self, op: str, instance_id: str) -> None: ...

    def action_cancel_op(self, op_id: int) -> None: ...

    def push_screen(self, screen: Screen[Any]) -> object: ...

    def call_after_refresh(self, callback: Callable[..., Any], *args: Any,
                           **kwargs: Any) -> bool: ...


class HasCommands(Protocol):
    palette_sources: CommandSources


class LecsCommands(Provider):
    """Lists the general commands; searches those and one command per action and resource."""

    @property
    def sources(self) -> CommandSources:
        return cast(HasCommands, self.app).palette_sources  # registered by LecsApp.__init__

    def _all(self) -> list[Command]:
        return list(self.sources.searched())

    async def discover(self) -> Hits:
        for text, help_text, command in self.sources.listed():
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, command in self._all():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, text=text, help=help_text)
