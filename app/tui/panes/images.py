"""Images (IMS): the catalogue of bootable images; import (file or URL) and create from a
stopped instance with progress and cancel; delete asks first (refused while in use)."""

from __future__ import annotations

import time
from typing import ClassVar

from textual.binding import Binding, BindingType

from app.render import size
from app.tui.panes.base import Pane
from app.tui.widgets.vtable import Column, Row
from backend.inventory.records import Image, ImageState

STATE_STYLE = {ImageState.AVAILABLE: "ok", ImageState.CREATING: "busy", ImageState.ERROR: "bad"}


def image_row(image: Image, in_use: int) -> Row:
    created = time.strftime("%Y-%m-%d %H:%M", time.localtime(image.created_at))
    cells = (
        image.name, image.id, image.format, size(image.size_bytes), image.os or "-",
        image.state.value, str(in_use), created, image.source, image.checksum[:19],
    )
    styles = ("", "muted", "", "", "", STATE_STYLE.get(image.state, ""), "", "muted", "muted",
              "muted")
    fields = {"name": image.name, "id": image.id, "format": image.format,
              "state": image.state.value, "os": image.os}
    return Row(image.id, cells, styles, fields)


class ImagesPane(Pane):
    NAME = "images"
    TITLE = "Images"
    EMPTY = "No images: press n to import a disk image from a file or an http(s) URL."
    COLUMNS = [
        Column("name", "NAME", 8, 24),
        Column("id", "ID", 14, 14, priority=2),
        Column("format", "FORMAT", 6, 7),
        Column("size", "SIZE", 8, 10, align_right=True),
        Column("os", "OS", 4, 36, priority=5),
        Column("state", "STATE", 9, 9),
        Column("used", "USED BY", 7, 7, priority=3, align_right=True),
        Column("created", "CREATED", 16, 16, priority=4),
        Column("source", "SOURCE", 6, 40, priority=7),
        Column("checksum", "CHECKSUM", 19, 19, priority=6),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "import_image", "Import",
                tooltip="Import a disk image from a file or an http(s) URL, with progress"),
        Binding("c", "create_image", "From instance",
                tooltip="Create an image from a stopped instance's system disk"),
        Binding("X", "cancel_import", "Cancel import", show=False,
                tooltip="Cancel the import or image creation in progress"),
        Binding("D", "delete", "Delete",
                tooltip="Delete the image (asks first; refused while in use)"),
    ]

    def refresh_data(self) -> None:
        users: dict[str, int] = {}
        for inst in self.lecs.instances:
            users[inst.image_id] = users.get(inst.image_id, 0) + 1
        images = self.lecs.cloud.images.list()
        self.set_rows([image_row(i, users.get(i.id, 0)) for i in images])

    def action_import_image(self) -> None:
        self.lecs.open_import_image()

    def action_create_image(self) -> None:
        self.lecs.create_image()

    def action_cancel_import(self) -> None:
        row = self.table.current_row
        self.lecs.cancel_imports(row.cells[0] if row else None)

    def action_delete(self) -> None:
        key = self.table.current_key
        if key:
            self.lecs.delete_image(key)
