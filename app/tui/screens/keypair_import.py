"""Import an OpenSSH public key as a key pair (or name a pair to generate), checked inline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from app.tui.screens.form import SubmitCancel
from app.tui.widgets.form_rules import entered, fit, free_name, name_error
from app.tui.widgets.guard import Guarded
from backend.inventory import validate
from backend.inventory.errors import ValidationError
from backend.network.keypairs import MAX_KEY, parse_public_key

PUBLIC = "~/.ssh/id_ed25519.pub"  # the default key, shown (and used) when it is there


@dataclass(slots=True, frozen=True)
class KeySpec:
    name: str
    public_key: str = ""  # a .pub path (or the key text); "" when generating
    private_key: str = ""
    generate: bool = False


def check_key_name(value: str, taken: set[str]) -> str:
    return name_error(value, "key pair name", taken)


def existing(path: str) -> str:
    """`path` if that file exists (then it is a default worth showing), else ""."""
    return path if Path(path).expanduser().is_file() else ""


def check_public_key(value: str) -> str:
    """The backend's verdict on a .pub path (or pasted key text), or "" if it is a key."""
    text = value.strip()
    if not text:
        return "a public key file is required (e.g. ~/.ssh/id_ed25519.pub)"
    try:
        if not any(c.isspace() for c in text) or Path(text).expanduser().is_file():
            path = validate.existing_file(text, "public key file")
            if path.stat().st_size > MAX_KEY:
                return f"{path} is too large for a public key"
            text = path.read_text(errors="replace")
        parse_public_key(text)
    except ValidationError as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot read {value!r}: {exc.strerror}"
    return ""


def check_private_key(value: str) -> str:
    if not value.strip():
        return ""
    try:
        validate.existing_file(value.strip(), "private key file")
    except ValidationError as exc:
        return str(exc)
    return ""


class ImportKeyScreen(Guarded, SubmitCancel, ModalScreen[KeySpec | None]):
    SUBMIT_BUTTON = "save"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("ctrl+s", "submit", "Save", show=False),
    ]
    CHECKS = ("name", "public", "private")

    def __init__(self, taken: set[str], generate: bool = False) -> None:
        super().__init__(classes="modal")
        self.taken = taken
        self.generate = generate

    def compose(self) -> ComposeResult:
        title = "Generate key pair" if self.generate else "Import key pair"
        with Vertical(classes="dialog", id="keypair-import-dialog"):
            yield Static(f"[b]{title}[/b]", classes="dialog-title")
            yield Label("Name")
            yield Input(placeholder=free_name("laptop", self.taken), id="name", compact=True)
            yield Label("", id="name-error", classes="field-error")
            if self.generate:
                yield Label("ssh-keygen makes an ed25519 pair; the private key stays 0600 in"
                            " LECS_HOME/keys and `s` uses it.", classes="hint")
            else:
                yield Label("Public key file (.pub)")
                yield Input(placeholder=existing(PUBLIC), id="public", compact=True,
                            tooltip="e.g. ~/.ssh/id_ed25519.pub")
                yield Label("", id="public-error", classes="field-error")
                yield Label("Private key file (optional: `s` and `lecs instance ssh` use it)")
                yield Input(placeholder=existing(PUBLIC.removesuffix(".pub")), id="private",
                            compact=True)
                yield Label("", id="private-error", classes="field-error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Generate (ctrl+s)" if self.generate else "Import (ctrl+s)",
                             id="save", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def _errors(self) -> dict[str, str]:
        values = {i.id: entered(i) for i in self.query(Input) if i.id}
        errors = {"name": check_key_name(values["name"].strip(), self.taken)}
        if not self.generate:
            errors["public"] = check_public_key(values["public"])
            errors["private"] = check_private_key(values["private"])
        return errors

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        field = event.input.id or ""
        error = self._errors().get(field, "") if event.value else ""
        self.query_one(f"#{field}-error", Label).update(fit(error))

    def action_submit(self) -> None:
        errors = self._errors()
        for field, error in errors.items():
            self.query_one(f"#{field}-error", Label).update(fit(error))
        bad = [field for field, error in errors.items() if error]
        if bad:
            self.query_one(f"#{bad[0]}", Input).focus()
            return
        name = entered(self.query_one("#name", Input))
        if self.generate:
            self.dismiss(KeySpec(name, generate=True))
        else:
            self.dismiss(KeySpec(name, entered(self.query_one("#public", Input)),
                                 entered(self.query_one("#private", Input))))
