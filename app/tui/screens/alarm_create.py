"""Create an alarm rule (Cloud Eye): resource, metric, statistic, comparison, threshold,
period, consecutive periods, suppression.

Each field is checked inline with the backend's own helpers and in the backend's order and
words (`backend.monitoring.alarms.Alarms.create`), so a message here reads as the CLI's;
tests/test_dashboard_metrics.py holds the two to the same messages.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from app.tui.screens.form import SubmitCancel
from app.tui.widgets.form_rules import NAME_MAX, entered, fit, name_error
from app.tui.widgets.guard import Guarded
from backend.inventory import validate
from backend.inventory.errors import ValidationError
from backend.monitoring.catalogue import (
    HOST,
    HOST_METRICS,
    INSTANCE_METRICS,
    metric,
    parse_duration,
)
from backend.monitoring.history import RAW_KEEP
from backend.monitoring.records import Comparison, Statistic

FIELDS = ("name", "threshold", "period", "periods", "suppression")


@dataclass(slots=True, frozen=True)
class AlarmSpec:
    """What `cloud.alarms.create` takes, as typed (the backend parses it again)."""

    name: str
    resource: str
    metric: str
    comparison: str
    threshold: str
    period: str
    periods: str
    statistic: str
    suppression: str


def check(spec: AlarmSpec, taken: set[str]) -> dict[str, str]:
    """Field -> the backend's error for it ("" when it would accept it)."""
    errors = dict.fromkeys(FIELDS, "")

    def guard(field: str, test: Callable[[], object]) -> None:
        try:
            test()
        except ValidationError as exc:
            errors[field] = errors[field] or str(exc)

    if len(spec.name) > NAME_MAX or not spec.name:
        errors["name"] = name_error(spec.name, "alarm name")
    guard("name", lambda: validate.name(spec.name, "alarm name"))
    try:
        percent = metric(spec.metric, spec.resource).percent
    except ValidationError:  # a metric of the other scope, while the options catch up
        percent = False
    try:
        limit = float(spec.threshold)
    except ValueError:
        errors["threshold"] = f"bad threshold {spec.threshold!r}: expected a number"
    else:
        if not math.isfinite(limit) or limit < 0 or (percent and limit > 100):
            top = "100 (a percentage)" if percent else "a finite number"
            errors["threshold"] = f"bad threshold {spec.threshold!r}: must be 0 to {top}"
    seconds: float | None = None
    try:
        seconds = parse_duration(spec.period, "period", maximum=RAW_KEEP)
    except ValidationError as exc:
        errors["period"] = str(exc)
    try:
        count = int(spec.periods)
    except ValueError:
        count = 0
    if not 1 <= count <= 20:
        errors["periods"] = f"bad periods {spec.periods!r}: expected 1 to 20"
    elif seconds is not None and seconds * count > RAW_KEEP:
        errors["periods"] = (f"period x periods is {seconds * count:g}s; "
                             f"at most {RAW_KEEP:g}s (1 h)")
    if spec.suppression not in {"0", "0.0", "0s"}:
        guard("suppression",
              lambda: parse_duration(spec.suppression, "suppression", maximum=86400))
    if not errors["name"] and spec.name in taken:
        errors["name"] = f"an alarm named {spec.name!r} exists already"
    return errors


class AlarmCreateScreen(Guarded, SubmitCancel, ModalScreen[AlarmSpec | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", tooltip="Close the dialog"),
        Binding("ctrl+s", "submit", "Create", tooltip="Submit the dialog (enter in a field too)"),
    ]

    def __init__(self, resources: list[tuple[str, str]], resource: str, taken: set[str]) -> None:
        """`resources`: (label, id) of the instances and the host; `resource` preselected."""
        super().__init__(classes="modal")
        self.resources = resources
        self.resource = resource if resource in {r for _l, r in resources} else HOST
        self.taken = taken
        label = next((lbl for lbl, r in resources if r == self.resource), HOST)
        base = f"{label.split()[0]}-cpu"
        self.suggested = next(n for i in range(1, 1000)
                              if (n := base if i == 1 else f"{base}-{i}") not in taken)

    @staticmethod
    def metric_options(resource: str) -> list[tuple[str, str]]:
        infos = HOST_METRICS if resource == HOST else INSTANCE_METRICS
        return [(f"{m.name}  [dim]{m.unit}[/]", m.name) for m in infos]

    def compose(self) -> ComposeResult:
        metrics = self.metric_options(self.resource)

        def row(label: str, widget: Input | Select[str], error: str = "") -> ComposeResult:
            with Horizontal(classes="form-row"):
                yield Label(label, classes="form-label")
                yield widget
            if error:
                yield Label("", id=f"{error}-error", classes="field-error")

        with Vertical(classes="dialog", id="alarm-dialog"):
            yield Static("[b]Create alarm rule[/b]", classes="dialog-title")
            yield from row("Name", Input(self.suggested, id="name", compact=True), "name")
            yield from row("Resource", Select(self.resources, value=self.resource, id="resource",
                                              allow_blank=False, compact=True))
            yield from row("Metric", Select(metrics, value=metrics[0][1], id="metric",
                                            allow_blank=False, compact=True))
            yield from row("Statistic", Select([(s.value, s.value) for s in Statistic],
                                               value="avg", id="statistic", allow_blank=False,
                                               compact=True))
            yield from row("Comparison", Select([(c.value, c.value) for c in Comparison],
                                                value=">", id="comparison", allow_blank=False,
                                                compact=True))
            yield from row("Threshold", Input("80", id="threshold", compact=True), "threshold")
            yield from row("Period", Input("60s", id="period", compact=True, placeholder="60s",
                                           tooltip="90s, 5m, 1h"), "period")
            yield from row("Periods", Input("1", id="periods", compact=True, placeholder="1",
                                            tooltip="consecutive periods, 1-20"), "periods")
            yield from row("Renotify", Input(id="suppression", compact=True, placeholder="never",
                                             tooltip="while in ALARM, notify again every …"
                                                     " (5m, 1h); never: once"),
                           "suppression")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Create (ctrl+s)", id="create", variant="primary", compact=True)

    def on_mount(self) -> None:
        for field in FIELDS:
            self.query_one(f"#{field}-error", Label).display = False
        self.query_one("#name", Input).focus()

    def spec(self) -> AlarmSpec:
        def text(field: str) -> str:
            value = entered(self.query_one(f"#{field}", Input))
            return "0" if field == "suppression" and value == "never" else value

        def choice(field: str) -> str:
            return str(self.query_one(f"#{field}", Select).value)

        return AlarmSpec(text("name"), choice("resource"), choice("metric"),
                         choice("comparison"), text("threshold"), text("period"),
                         text("periods"), choice("statistic"), text("suppression"))

    def _show(self, errors: dict[str, str], only: str | None = None) -> None:
        for field, error in errors.items():
            if only is None or field == only:
                label = self.query_one(f"#{field}-error", Label)
                label.update(fit(error))
                label.display = bool(error)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if event.input.id:
            self._show(check(self.spec(), self.taken), event.input.id)

    @on(Select.Changed, "#resource")
    def _resource_changed(self, event: Select.Changed) -> None:
        select = self.query_one("#metric", Select)
        options = self.metric_options(str(event.value))
        if select.value not in {value for _l, value in options}:
            select.set_options(options)
            select.value = options[0][1]
        self._show(check(self.spec(), self.taken), "threshold")

    @on(Select.Changed, "#metric")
    def _metric_changed(self) -> None:
        self._show(check(self.spec(), self.taken), "threshold")

    def action_submit(self) -> None:
        spec = self.spec()
        errors = check(spec, self.taken)
        self._show(errors)
        bad = [field for field, error in errors.items() if error]
        if bad:
            self.query_one(f"#{bad[0]}").focus()
            return
        self.dismiss(spec)
