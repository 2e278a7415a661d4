"""One metric chart per widget: a `PlotextPlot` that draws a `Chart` (a copy of the data).

`MetricPlot.show(chart)` keeps the chart and asks for a repaint only when it differs from
the one on screen. The plotext figure is built in `render`, which Textual calls only for a
widget that is on screen, so a hidden plot costs nothing and a resize redraws at the new
size. Line colours come from the app theme's variables (no colour is named here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import RenderResult
from textual.color import Color
from textual_plotext import PlotextPlot

from app.tui.widgets.sparklines import Point, byte_unit

TICKS = 5  # about this many intervals on the time axis


@dataclass(slots=True, frozen=True)
class Line:
    label: str
    points: tuple[Point, ...]  # (epoch seconds, value); None = n/a
    color: str = "primary"  # a theme variable


@dataclass(slots=True, frozen=True)
class Chart:
    title: str
    lines: tuple[Line, ...]
    now: float  # right edge of the time axis
    window: float  # seconds shown
    unit: str  # "%", "B/s" (scaled to KiB/s…), or a label shown as is
    empty: str = "no samples in this window"  # shown when no line has a value

    @property
    def has_data(self) -> bool:
        return any(v is not None for line in self.lines for _t, v in line.points)


NICE_STEPS = (10.0, 30.0, 60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 21600.0)


def time_ticks(window: float) -> tuple[list[float], list[str]]:
    """Positions (seconds before now, negative) and labels: -5m … now, -24h -20h … now."""
    step = next((s for s in NICE_STEPS if window / s <= TICKS + 1), window / TICKS)
    unit, name = (3600.0, "h") if window >= 4 * 3600 else (60.0, "m") if window >= 300 \
        else (1.0, "s")
    count = int(window // step)
    positions = [-(count - i) * step for i in range(count + 1)]
    labels = [f"{p / unit:.0f}{name}" if p else "now" for p in positions]
    return positions, labels


def y_ticks(top: float, height: int) -> list[float]:
    """0 always, the top, and the middle when the chart has the rows for it (plotext's own
    ticks leave 0 out on a short chart, and then no line reads as "idle")."""
    return [0.0, top / 2, top] if height >= 9 else [0.0, top]


def tick_text(value: float, top: float) -> str:
    return f"{value:.0f}" if top >= 10 else f"{value:.1f}"


class MetricPlot(PlotextPlot):
    """A time-series chart of one or two lines of one resource."""

    DEFAULT_CSS = """
    MetricPlot {
        background: $surface;
        color: $text-muted;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.chart: Chart | None = None
        self.builds = 0  # how many times the figure was built (tests, bench)

    def show(self, chart: Chart) -> None:
        """Keep `chart` (the caller passes fresh tuples) and repaint if it changed."""
        if chart != self.chart:
            self.chart = chart
            self.refresh()

    def _rgb(self, variable: str) -> tuple[int, int, int]:
        colour = self.app.theme_variables.get(variable) or self.app.theme_variables["primary"]
        return Color.parse(colour).rgb

    def render(self) -> RenderResult:
        chart = self.chart
        if chart is None or not chart.has_data:
            title = chart.title if chart else ""
            message = chart.empty if chart else ""
            pad = "\n" * max(0, self.size.height // 2 - 1)
            return Text(f"{title}{pad}\n{message}", justify="center")
        self.builds += 1
        plt = self.plt
        plt.clear_figure()
        scale, unit = (1.0, chart.unit)
        peak = max((v for line in chart.lines for _t, v in line.points if v is not None),
                   default=0.0)
        if chart.unit == "B/s":
            scale, unit = byte_unit(peak)
        for line in chart.lines:
            xs, ys = _xy(line.points, chart.now, scale)
            if xs:
                plt.plot(xs, ys, marker="braille", color=self._rgb(line.color),
                         label=line.label if len(chart.lines) > 1 else None)
        plt.xlim(-chart.window, 0)
        positions, labels = time_ticks(chart.window)
        plt.xticks(positions, labels)
        top = 100.0 if chart.unit == "%" else max(peak / scale * 1.15, 1.0)
        plt.ylim(0, top)
        ticks = y_ticks(top, self.size.height)
        plt.yticks(ticks, [tick_text(t, top) for t in ticks])
        plt.title(f"{chart.title} ({unit})" if unit else chart.title)
        return super().render()


def _xy(points: Sequence[Point], now: float, scale: float) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for t, value in points:
        if value is not None:
            xs.append(t - now)
            ys.append(value / scale)
    return xs, ys
