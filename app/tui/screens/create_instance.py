"""Create an instance: name, image, type, tags, security groups, key pair, hostname, user-data.

Every field is checked inline with the backend's own validators, so a message here reads
as the CLI's; the groups are compiled for user-mode networking as the backend will.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, SelectionList, Static

from app.tui.screens.form import SubmitCancel
from app.tui.widgets.form_rules import entered, fit, free_name, name_error
from app.tui.widgets.guard import Guarded
from backend.compute.records import InstanceType
from backend.inventory import validate
from backend.inventory.errors import ValidationError
from backend.inventory.records import Image
from backend.network import cloudinit, usermode
from backend.network.instance_net import check_user_data_file
from backend.network.records import SecurityGroup

DEFAULT_GROUP = "default"
CHECKS = ("name", "tags", "sgs", "hostname", "user-data")


@dataclass(slots=True, frozen=True)
class CreateSpec:
    name: str
    image: str
    itype: str
    tags: dict[str, str]
    sgs: list[str] = field(default_factory=list)  # group names; [] = the backend's default
    keypair: str | None = None
    hostname: str | None = None
    user_data: bytes | None = None
    start: bool = True


def check_name(value: str, taken: set[str]) -> str:
    """The error for a name, or "" if the backend would accept it."""
    return name_error(value, "instance name", taken)


def check_tags(value: str) -> tuple[dict[str, str], str]:
    try:
        return validate.tags(value.replace(",", " ").split()), ""
    except ValidationError as exc:
        return {}, fit(str(exc))


def check_hostname(value: str) -> str:
    try:
        cloudinit.hostname(value) if value else None
    except ValidationError as exc:
        return fit(str(exc))
    return ""


def check_user_data(path: str) -> tuple[bytes | None, str]:
    """The user-data file's bytes (None if no path), or the backend's error."""
    if not path:
        return None, ""
    try:
        data = check_user_data_file(path)
        cloudinit.user_data(data)
    except ValidationError as exc:
        return None, fit(str(exc))
    except OSError as exc:
        return None, fit(f"cannot read user-data file {path!r}: {exc.strerror}")
    return data, ""


def check_groups(names: list[str], groups: list[SecurityGroup], instance: str) -> str:
    """Whether user-mode networking can enforce these groups together (as create checks)."""
    chosen = [g for g in groups if g.name in (names or [DEFAULT_GROUP])]
    try:
        usermode.compile_rules([r for g in chosen for r in g.rules])
    except ValidationError as exc:
        return f"instance {instance or 'NAME'!r}: {exc}"
    return ""


class CreateInstanceScreen(Guarded, SubmitCancel, ModalScreen[CreateSpec | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", tooltip="Close the dialog"),
        Binding("ctrl+s", "submit", "Create", tooltip="Submit the dialog (enter in a field too)"),
    ]

    def __init__(self, images: list[Image], types: list[InstanceType], taken: set[str],
                 groups: list[SecurityGroup] | None = None,
                 keypairs: list[str] | None = None) -> None:
        super().__init__(classes="modal")
        self.images = [i for i in images if i.state.value == "available"]
        self.types = types
        self.taken = taken
        self.groups = groups or []
        self.keypairs = keypairs or []

    def compose(self) -> ComposeResult:
        image_opts = [(f"{i.name} ({i.format})", i.name) for i in self.images]
        type_opts = [(f"{t.name}  {t.vcpus} vCPU  {t.memory_mib} MiB", t.name) for t in self.types]
        first_image = image_opts[0][1] if image_opts else Select.NULL
        first_type = next((t.name for t in self.types if t.name == "t1.nano"),
                          type_opts[0][1] if type_opts else Select.NULL)
        group_opts = [(f"{g.name}  [dim]{len(g.rules)} rule{'' if len(g.rules) == 1 else 's'}"
                       "[/]", g.name, g.name == DEFAULT_GROUP) for g in self.groups]

        def row(label: str, widget: Input | Select[str] | SelectionList[str] | Checkbox,
                error: str = "") -> ComposeResult:
            with Horizontal(classes="form-row"):
                yield Label(label, classes="form-label")
                yield widget
            if error:
                yield Label("", id=f"{error}-error", classes="field-error")

        with Vertical(classes="dialog", id="create-dialog"):
            yield Static("[b]Create instance[/b]", classes="dialog-title")
            yield from row("Name", Input(placeholder=free_name("vm-1", self.taken), id="name",
                                         compact=True), "name")
            yield from row("Image", Select(image_opts, value=first_image, id="image",
                                           allow_blank=not image_opts, compact=True))
            yield from row("Type", Select(type_opts, value=first_type, id="type",
                                          allow_blank=False, compact=True))
            yield from row("Tags k=v", Input(id="tags", compact=True,
                                             tooltip="env=dev team=lab: spaces or commas"),
                           "tags")
            yield from row("Groups", SelectionList(*group_opts, id="sgs", compact=True), "sgs")
            yield from row("Key pair", Select([(k, k) for k in self.keypairs], id="keypair",
                                              prompt="none", compact=True))
            yield from row("Hostname", Input(id="hostname", compact=True,
                                             tooltip="blank: made from the name"), "hostname")
            yield from row("User data", Input(id="user-data", compact=True,
                                              tooltip="path to a #! script or #cloud-config"
                                              " file"), "user-data")
            yield from row("", Checkbox("Start it now", value=True, id="start", compact=True))
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Create (ctrl+s)", id="create", variant="primary", compact=True)

    def on_mount(self) -> None:
        for check in CHECKS:
            self.query_one(f"#{check}-error", Label).display = False
        self.query_one("#hostname", Input).placeholder = cloudinit.hostname_for(
            self._value("name"))
        self.query_one("#name", Input).focus()

    def _show(self, check: str, error: str) -> None:
        label = self.query_one(f"#{check}-error", Label)
        label.update(fit(error))
        label.display = bool(error)

    def _value(self, widget_id: str) -> str:
        """The field's value, or its default (placeholder) when blank."""
        return entered(self.query_one(f"#{widget_id}", Input))

    def _groups(self) -> list[str]:
        return list(self.query_one("#sgs", SelectionList).selected)

    @on(Input.Changed, "#name")
    def _name_changed(self, event: Input.Changed) -> None:
        self._show("name", check_name(event.value.strip(), self.taken) if event.value else "")
        # the hostname's default follows the name, as the backend derives it
        self.query_one("#hostname", Input).placeholder = cloudinit.hostname_for(
            self._value("name"))

    @on(Input.Changed, "#tags")
    def _tags_changed(self, event: Input.Changed) -> None:
        self._show("tags", check_tags(event.value)[1])

    @on(Input.Changed, "#hostname")
    def _hostname_changed(self, event: Input.Changed) -> None:
        self._show("hostname", check_hostname(event.value.strip()))

    @on(Input.Changed, "#user-data")
    def _user_data_changed(self, event: Input.Changed) -> None:
        self._show("user-data", check_user_data(event.value.strip())[1])

    @on(SelectionList.SelectedChanged)
    def _groups_changed(self) -> None:
        self._show("sgs", check_groups(self._groups(), self.groups, self._value("name")))

    def action_submit(self) -> None:
        name = self._value("name")
        tags, tags_error = check_tags(self.query_one("#tags", Input).value)
        hostname = self._value("hostname")
        user_data, user_data_error = check_user_data(self._value("user-data"))
        sgs = self._groups()
        errors = {
            "name": check_name(name, self.taken), "tags": tags_error,
            "sgs": check_groups(sgs, self.groups, name), "hostname": check_hostname(hostname),
            "user-data": user_data_error,
        }
        for check, error in errors.items():
            self._show(check, error)
        image = self.query_one("#image", Select).value
        itype = self.query_one("#type", Select).value
        keypair = self.query_one("#keypair", Select).value
        if image is Select.NULL:
            self.notify("no available image: import one first", severity="error")
            return
        bad = [check for check, error in errors.items() if error]
        if bad:
            self.query_one(f"#{bad[0]}").focus()
            return
        self.dismiss(CreateSpec(
            name, str(image), str(itype), tags, sgs,
            keypair=None if keypair is Select.NULL else str(keypair),
            hostname=hostname or None, user_data=user_data,
            start=self.query_one("#start", Checkbox).value,
        ))
