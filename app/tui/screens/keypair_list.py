"""Key pairs (`p` in Security groups, or the palette): list, import, generate, delete."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Label, Static

from app.tui.screens.list_dialog import ListDialog
from app.tui.widgets.vtable import Column, Row, VirtualTable
from backend.network.records import KeyPair

KEY_COLUMNS = [
    Column("name", "NAME", 6, 20),
    Column("type", "TYPE", 7, 19, priority=3),
    Column("fingerprint", "FINGERPRINT", 20, 50),
    Column("used", "USED BY", 7, 30, priority=2),
    Column("private", "PRIVATE KEY", 11, 40, priority=1),
]


def keypair_row(key: KeyPair, used_by: list[str]) -> Row:
    cells = (key.name, key.key_type, key.fingerprint, ",".join(sorted(used_by)) or "-",
             key.private_key_path or "-")
    return Row(key.name, cells, ("", "muted", "", "", "muted"), {"name": key.name})


class KeyPairsScreen(ListDialog):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("i", "import_key", "Import",
                tooltip="Import an OpenSSH public key from a .pub file"),
        Binding("n", "generate", "New",
                tooltip="Generate a pair with ssh-keygen (private key kept 0600)"),
        Binding("D", "delete", "Delete", tooltip="Delete the selected pair"
                                                 " (asks first)"),
        Binding("escape", "close", "Close", tooltip="Close the list"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[KeyPair] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="keypairs-dialog"):
            yield Static("[b]Key pairs[/b] · public keys put in instances at create",
                         classes="dialog-title")
            yield VirtualTable(KEY_COLUMNS, empty_text="No key pairs: press i to import one"
                               " or n to generate one.", id="keypairs-table")
            yield Label("i import · n new (ssh-keygen) · D delete · esc close", classes="hint")

    def reload(self) -> None:
        used: dict[str, list[str]] = {}
        for inst in self.lecs.instances:
            if inst.key_pair:
                used.setdefault(inst.key_pair, []).append(inst.name)
        self.keys = self.lecs.cloud.keypairs.list()
        self.table.set_rows([keypair_row(k, used.get(k.name, [])) for k in self.keys])

    def action_import_key(self, generate: bool = False) -> None:
        from app.tui.screens.keypair_import import ImportKeyScreen, KeySpec

        keypairs = self.lecs.cloud.keypairs

        def done(spec: KeySpec | None) -> None:
            if spec is None:
                return
            if spec.generate:
                self._run("keypair.create", spec.name, keypairs.create, spec.name)
            else:
                self._run("keypair.import", spec.name, keypairs.import_key, spec.name,
                          spec.public_key, spec.private_key)

        self.app.push_screen(ImportKeyScreen({k.name for k in self.keys}, generate), done)

    def action_generate(self) -> None:
        self.action_import_key(generate=True)

    def action_delete(self) -> None:
        name = self.table.current_key
        if name is None:
            return
        keypairs = self.lecs.cloud.keypairs
        key = next((k for k in self.keys if k.name == name), None)
        question = f"Delete key pair {name}?" + (f"\n{key.fingerprint}" if key else "")
        if key and key.private_key_path == str(keypairs.keys_dir / name):
            question += "\nThe private key lecs generated for it is deleted too."
        self.lecs.confirm(question,
                          lambda: self._run("keypair.delete", name, keypairs.delete, name))
