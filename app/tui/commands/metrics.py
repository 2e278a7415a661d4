"""Palette commands of the Metrics pane: chart windows, alarm rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from app.tui.panes.metrics import MetricsPane
from app.tui.panes.metrics_data import WINDOWS

if TYPE_CHECKING:
    from app.tui.commands.palette import Command, Controls


def metrics_commands(app: Controls) -> Iterator[Command]:
    def on_pane(call: Callable[[MetricsPane], object]) -> Callable[[], None]:
        """Show the Metrics pane (mounted on first show), then act on it."""
        def run() -> None:
            app.action_show_pane("metrics")
            app.call_after_refresh(lambda: call(metrics_pane(app)))
        return run

    for index, (_seconds, label) in enumerate(WINDOWS):
        yield (f"Metrics window: {label}", f"charts and trends over the last {label} (w cycles)",
               on_pane(partial(MetricsPane.set_window, index=index)))
    yield ("New alarm rule", "metric, statistic, threshold, periods (n on Metrics)",
           on_pane(lambda pane: pane.action_new_alarm()))
    yield ("Alarm list", "the alarm rules and their states (a on Metrics)",
           on_pane(lambda pane: pane.action_alarms()))


def metrics_pane(app: Controls) -> MetricsPane:
    pane = app.pane("metrics")
    assert isinstance(pane, MetricsPane)
    return pane
