"""The App's monitoring (a mixin): the metrics sampler's pace (each second while a live pane
is shown), the live columns' data, alarm notices, and the host facts of the header."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import work
from textual.notifications import SeverityLevel

from app.tui.widgets.header import HostHeader
from backend import Cloud
from backend.inventory.records import HostFacts

if TYPE_CHECKING:
    from textual.app import App

    from app.tui.panes.base import Pane
    from backend.monitoring.records import AlarmChange, MetricSample

    AppBase = App[None]
else:
    AppBase = object  # a mixin of LecsApp: no second App subclass to build at start

LIVE_PANES = {"metrics", "instances"}  # the sampler ticks each second while one is shown
SAMPLE_LIVE, SAMPLE_IDLE = 1.0, 10.0


class Monitoring(AppBase):
    cloud: Cloud
    facts: HostFacts | None  # None until fetched off the first frame's path (a subprocess)
    monitoring: bool  # cloud.metrics is built after the first frame (on_ready)
    pane_name: str

    if TYPE_CHECKING:
        @property
        def current_pane(self) -> Pane: ...

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
