"""A VT100 terminal widget: pyte keeps the screen, Textual draws it line by line.

Bytes from the guest go in with `feed`; keys typed while the widget has focus come out
through `send` as the bytes a terminal would emit. `ctrl+]` posts `Detach` instead.
"""

from __future__ import annotations

from collections.abc import Callable

import pyte
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from app.tui.widgets.guard import Guarded

DETACH = "\x1d"  # ctrl+]
KEY_BYTES: dict[str, bytes] = {
    "enter": b"\r", "tab": b"\t", "backspace": b"\x7f", "escape": b"\x1b",
    "up": b"\x1b[A", "down": b"\x1b[B", "right": b"\x1b[C", "left": b"\x1b[D",
    "home": b"\x1b[H", "end": b"\x1b[F", "insert": b"\x1b[2~", "delete": b"\x1b[3~",
    "pageup": b"\x1b[5~", "pagedown": b"\x1b[6~", "shift+tab": b"\x1b[Z",
}
PYTE_COLORS = {"brown": "yellow", "bfightmagenta": "bright_magenta"}


def _color(name: str) -> str | None:
    if name == "default":
        return None
    if name in PYTE_COLORS:
        return PYTE_COLORS[name]
    if name.startswith("bright"):
        return "bright_" + PYTE_COLORS.get(name[6:], name[6:])
    if len(name) == 6 and all(c in "0123456789abcdefABCDEF" for c in name):
        return "#" + name
    return name


def key_to_bytes(event: events.Key) -> bytes | None:
    if event.key in KEY_BYTES:
        return KEY_BYTES[event.key]
    char = event.character
    if char and (char.isprintable() or ord(char) < 32):
        return char.encode()
    return None


class Terminal(Guarded, Widget, can_focus=True):
    """A pyte screen drawn with the Line API; sized to the widget on resize."""

    DEFAULT_CSS = """
    Terminal { height: 1fr; width: 1fr; }
    """

    class Detach(Message):
        """The user pressed ctrl+] to leave the console."""

    def __init__(self, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.screen_buffer = pyte.Screen(80, 24)
        self.stream = pyte.ByteStream(self.screen_buffer)
        self.send: Callable[[bytes], None] | None = None
        self._styles: dict[tuple[object, ...], Style] = {}

    # ---- data in and out -----------------------------------------------------------
    def feed(self, data: bytes) -> None:
        self.stream.feed(data)
        self.refresh()

    @property
    def lines(self) -> list[str]:
        """The screen as plain text, one string per row (what the guest shows)."""
        return [line.rstrip() for line in self.screen_buffer.display]

    def on_resize(self, event: events.Resize) -> None:
        cols, rows = max(2, event.size.width), max(2, event.size.height)
        if (rows, cols) != (self.screen_buffer.lines, self.screen_buffer.columns):
            self.screen_buffer.resize(rows, cols)
            self.refresh()

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        if event.character == DETACH or event.key == "ctrl+right_square_bracket":
            self.post_message(self.Detach())
            return
        data = key_to_bytes(event)
        if data is not None and self.send is not None:
            self.send(data)

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        if self.send is not None:
            self.send(event.text.replace("\n", "\r").encode())

    # ---- rendering -----------------------------------------------------------------
    def _style(self, char: pyte.screens.Char) -> Style:
        key = (char.fg, char.bg, char.bold, char.italics, char.underscore, char.reverse,
               char.strikethrough)
        style = self._styles.get(key)
        if style is None:
            style = Style(
                color=_color(char.fg), bgcolor=_color(char.bg), bold=char.bold,
                italic=char.italics, underline=char.underscore, reverse=char.reverse,
                strike=char.strikethrough,
            )
            self._styles[key] = style
        return style

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        screen = self.screen_buffer
        if y >= screen.lines:
            return Strip.blank(width, base)
        row = screen.buffer[y]
        cursor = screen.cursor
        segments: list[Segment] = []
        text: list[str] = []
        current: Style | None = None
        for x in range(min(width, screen.columns)):
            char = row[x]
            if char.data == "":  # the second cell of a wide character
                continue
            style = base + self._style(char)
            if self.has_focus and y == cursor.y and x == cursor.x and not cursor.hidden:
                style += Style(reverse=True)
            if style != current and text:
                segments.append(Segment("".join(text), current))
                text = []
            current = style
            text.append(char.data)
        if text:
            segments.append(Segment("".join(text), current))
        return Strip(segments).extend_cell_length(width, base).crop(0, width)
