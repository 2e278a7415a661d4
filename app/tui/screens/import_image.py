"""Import a disk image (qcow2, raw, vmdk, …) from a file or an http(s) URL, validated first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, Label

from app.tui.screens.form import FormScreen, field
from app.tui.widgets.form_rules import fit, free_name, name_error
from backend.images.transfer import check_checksum, check_url
from backend.inventory import validate
from backend.inventory.errors import ValidationError


@dataclass(slots=True, frozen=True)
class ImportSpec:
    source: str  # a file path or an http(s) URL
    name: str
    os_name: str
    checksum: str | None = None  # sha256:/blake3: (bare hex = sha256) to verify a download

    @property
    def is_url(self) -> bool:
        return is_url(self.source)


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def source_error(source: str) -> str:
    if not source:
        return "an image file or http(s) URL is required"
    try:
        if is_url(source):
            check_url(source)
        else:
            validate.existing_file(source, "image file")
    except ValidationError as exc:
        return fit(str(exc))
    return ""


def checksum_error(source: str, checksum: str) -> str:
    if not checksum:
        return ""
    if not is_url(source):
        return "a checksum is verified for downloads; a file's checksum is recorded on import"
    try:
        check_checksum(checksum)
    except ValidationError as exc:
        return str(exc)
    return ""


def stem(source: str) -> str:
    """`…/debian-12-genericcloud-amd64.qcow2?x=1` → `debian-12-genericcloud-amd64`."""
    path = urlsplit(source).path if is_url(source) else source
    return PurePosixPath(path).name.split(".")[0][:64]


class ImportImageScreen(FormScreen[ImportSpec]):
    HEADING = "Import image"
    SUBMIT = "Import"
    DIALOG_ID = "import-dialog"

    def __init__(self, taken: set[str]) -> None:
        super().__init__()
        self.taken = taken

    def fields(self) -> ComposeResult:
        yield from field("Image file or http(s) URL (qcow2, raw, vmdk…)", "path")
        yield from field("Name (blank: from the file's name)", "name")
        yield from field("OS (optional, e.g. Debian 12)", "os")
        yield from field("Checksum to verify (optional, downloads: sha256:<64 hex>)",
                         "checksum")
        yield Label("Progress shows above the footer; X on Images (or click ✕) cancels.",
                    classes="hint")

    @on(Input.Changed, "#path")
    def _path_changed(self, event: Input.Changed) -> None:
        base = stem(event.value.strip())
        self.query_one("#name", Input).placeholder = free_name(base, self.taken) if base else ""

    @on(Input.Changed, "#name")
    def _name_changed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        self.show_error("name", name_error(value, "image name", self.taken) if value else "")

    def result(self) -> ImportSpec | None:
        name = self.value("name")
        source, checksum = self.value("path"), self.value("checksum")
        problems = [
            self.show_error("path", source_error(source)),
            self.show_error("name", name_error(name, "image name", self.taken)),
            self.show_error("checksum", checksum_error(source, checksum)),
        ]
        if any(problems):
            return None
        return ImportSpec(source, name, self.value("os"), checksum or None)
