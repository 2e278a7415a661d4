"""Metrics (Cloud Eye): a fleet table with CPU trends, the host panel, four charts of the
highlighted instance over 5 min / 1 h / 24 h, and the alarm rules with their states.

Data comes from `cloud.metrics` and `cloud.alarms` (backend/monitoring/__init__.py). The
sampler runs in the app (1 s while this pane or Instances is shown). This pane reads on the
app's poll, which never overlaps itself and calls only the pane on screen, with no modal
open; reads are throttled to one a second, and charts repaint only when their data changed
and they are on screen (see app/tui/widgets/plots.py).
"""

from __future__ import annotations

import time
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Static

from app.tui.panes import metrics_data as data
from app.tui.panes.base import Pane
from app.tui.widgets.live_table import LiveTable
from app.tui.widgets.plots import MetricPlot
from app.tui.widgets.vtable import VirtualTable
from backend.compute.records import Instance
from backend.inventory.records import InstanceState
from backend.monitoring.catalogue import HOST
from backend.monitoring.records import AlarmState

REFRESH = 1.0  # seconds between reads of the history
PLOTS = ("cpu", "mem", "disk", "net")
TALL = 34  # pane rows from which the alarm list shows under the charts


class MetricsPane(Pane):
    NAME = "metrics"
    TITLE = "Metrics"
    EMPTY = "No instances."
    COLUMNS = data.FLEET_COLUMNS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "window", "Window", tooltip="Chart window: 5 min, 1 h, 24 h (cycles)"),
        Binding("a", "alarms", "Alarms",
                tooltip="Show the alarm list instead of the charts (again: back)"),
        Binding("n", "new_alarm", "New alarm",
                tooltip="Create an alarm rule on the highlighted instance (or the host)"),
        Binding("D", "delete_alarm", "Delete alarm", show=False,
                tooltip="Delete the highlighted alarm rule (asks first)"),
    ]

    window_index = 0
    selected: str | None = None
    _fetched = 0.0
    _seen: tuple[object, ...] = ()
    _host_text = ""
    _title = ""
    _charted = 0.0

    def compose(self) -> ComposeResult:
        yield Static(self.TITLE, classes="pane-title")
        with Horizontal(id="metrics-top"):
            yield LiveTable(self.COLUMNS, empty_text=self.EMPTY, id="metrics-table")
            yield Static("", id="metrics-host")
        with Grid(id="metrics-plots"):
            for key in PLOTS:
                yield MetricPlot(id=f"plot-{key}")
        with Vertical(id="metrics-alarms"):
            yield Static("[b]Alarms[/b]", id="alarms-title", classes="pane-subtitle")
            yield LiveTable(data.ALARM_COLUMNS, id="alarms-table",
                            empty_text="No alarm rules: press n to create one.")

    # ---- parts ---------------------------------------------------------------------
    @property
    def table(self) -> LiveTable:
        return self.query_one("#metrics-table", LiveTable)

    @property
    def alarms_table(self) -> LiveTable:
        return self.query_one("#alarms-table", LiveTable)

    def plot(self, key: str) -> MetricPlot:
        return self.query_one(f"#plot-{key}", MetricPlot)

    @property
    def window(self) -> tuple[float, str]:
        return data.WINDOWS[self.window_index]

    @property
    def showing_alarms(self) -> bool:
        return self.has_class("-alarms")

    def current_instance(self) -> Instance | None:
        key = self.selected or self.table.current_key
        return next((i for i in self.lecs.instances if i.id == key), None)

    # ---- data ----------------------------------------------------------------------
    def refresh_data(self) -> None:
        """Re-read at most once a second, or at once when the selection or window changed.

        The alarm list is read on every call (one small query), so a rule just created or
        deleted shows at once; tables and the host panel repaint only when they changed, and
        the charts about once per braille dot of time (2 s for 5 min, 25 s for 1 h).
        """
        self._refresh_alarms()
        seen = (self.lecs.version, self.selected, self.window_index, self.showing_alarms)
        moved = seen != self._seen
        if not moved and time.monotonic() - self._fetched < REFRESH:
            return
        self._seen, self._fetched = seen, time.monotonic()
        cloud, now = self.lecs.cloud, self.lecs.clock()
        seconds, label = self.window
        latest = cloud.metrics.latest()
        instances = self.lecs.instances
        self.table.update_rows(data.fleet(cloud, instances, latest, seconds, now))
        host = data.host_text(cloud, self.lecs.facts, instances, latest.get(HOST), seconds, now)
        if host != self._host_text:
            self._host_text = host
            self.query_one("#metrics-host", Static).update(host, layout=False)  # fixed size
        if self.selected is None:  # start on the first running instance
            first = next((i.id for i in instances if i.state is InstanceState.RUNNING), None)
            if first is not None:
                self.table.move_to(first)
            self.selected = self.table.current_key
        inst = self.current_instance()
        if inst is not None and not self.showing_alarms and (
                moved or time.monotonic() - self._charted + REFRESH / 2 >= self.chart_period()):
            self._charted = time.monotonic()
            for key, chart in zip(PLOTS, data.charts(cloud, inst, seconds, label, now),
                                  strict=True):
                self.plot(key).show(chart)
        self.update_title()

    def chart_period(self) -> float:
        """Seconds of the window per braille dot across a chart (no point redrawing sooner)."""
        dots = 2 * max(20, self.plot("cpu").size.width - 8)  # less the y-axis labels
        return max(REFRESH, self.window[0] / dots)

    def _refresh_alarms(self) -> None:
        alarms = self.lecs.cloud.alarms.list()
        names = {i.id: i.name for i in self.lecs.instances}
        rows = [data.alarm_row(a, names) for a in alarms]
        if rows == self.alarms_table.rows:
            return
        self.alarms_table.update_rows(rows)
        firing = sum(1 for a in alarms if a.state is AlarmState.ALARM)
        text = f"[b]Alarms[/b] · {len(alarms)}"
        if firing:
            text += f" · [$error]{firing} in ALARM[/]"
        self.query_one("#alarms-title", Static).update(
            text + " · [dim]n new · D delete · a charts/alarms · tab to the list[/]",
            layout=False)

    def reload(self) -> None:
        """Read now (after a key changed what is shown)."""
        self._fetched = 0.0
        self.refresh_data()

    def update_title(self) -> None:
        table = self.table
        shown, total = len(table.view), len(table.rows)
        parts = [f"[b]{self.TITLE}[/b]", f"{shown}" if shown == total else f"{shown} of {total}",
                 f"window [b]{self.window[1]}[/b] [dim](w)[/]"]
        inst = self.current_instance()
        if inst is not None:
            parts.append(f"charts: [$accent]{inst.name}[/]")
        if table.filter_text:
            shown_filter = table.filter_text.replace("[", r"\[")
            parts.append(f"filter: [$accent]{shown_filter}[/]")
        title = " · ".join(parts)
        if title != self._title:
            self._title = title
            self.query_one(".pane-title", Static).update(title, layout=False)

    # ---- events --------------------------------------------------------------------
    def on_virtual_table_highlighted(self, message: VirtualTable.Highlighted) -> None:
        if message.table is self.table and message.key and message.key != self.selected:
            self.selected = message.key
            if self.is_mounted and self.display:
                self.reload()
        self.update_title()

    def on_show(self) -> None:
        self._seen = ()  # shown again: read at once, charts included

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height >= TALL, "-tall")

    # ---- actions -------------------------------------------------------------------
    def action_window(self) -> None:
        self.window_index = (self.window_index + 1) % len(data.WINDOWS)
        self.reload()

    def set_window(self, index: int) -> None:
        self.window_index = index % len(data.WINDOWS)
        self.reload()

    def action_alarms(self) -> None:
        self.toggle_class("-alarms")
        (self.alarms_table if self.showing_alarms else self.table).focus()
        self.reload()

    def action_new_alarm(self) -> None:
        from app.tui.screens.alarm_create import AlarmCreateScreen, AlarmSpec

        inst = self.current_instance()
        resources = [(f"{i.name} ({i.id})", i.id) for i in self.lecs.instances]
        resources.append(("host (this machine)", HOST))
        taken = {a.name for a in self.lecs.cloud.alarms.list()}

        def done(spec: AlarmSpec | None) -> None:
            if spec is not None:
                self.lecs.run_op(
                    "alarm.create", spec.name, self.lecs.cloud.alarms.create, spec.name,
                    spec.resource, spec.metric, spec.comparison, spec.threshold,
                    period=spec.period, periods=spec.periods, statistic=spec.statistic,
                    suppression=spec.suppression)

        screen = AlarmCreateScreen(resources, inst.id if inst is not None else HOST, taken)
        self.app.push_screen(screen, done)

    def action_delete_alarm(self) -> None:
        if not self.query_one("#metrics-alarms").display:
            self.notify("the alarm list is hidden: press a to show it", severity="warning")
            return
        key = self.alarms_table.current_key
        alarm = next((a for a in self.lecs.cloud.alarms.list() if a.id == key), None)
        if alarm is None:
            self.notify("no alarm rule highlighted (tab to the alarm list)", severity="warning")
            return

        def go() -> None:
            self.lecs.run_op("alarm.delete", alarm.name, self.lecs.cloud.alarms.delete,
                             alarm.id)

        self.lecs.confirm(f"Delete alarm rule {alarm.name!r}?", go)
