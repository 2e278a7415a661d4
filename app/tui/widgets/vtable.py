"""A table that renders only the rows on screen (Line API over a filtered list).

The stock DataTable measures every cell on each repaint (1.5 s for 10,000 rows here). This
one keeps rows as plain tuples of strings, measures column widths once when the rows change,
and draws only the visible lines, so a filter keystroke over 10,000 rows costs one list
comprehension plus one screenful of `render_line` calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from app.tui.widgets import query
from app.tui.widgets.columns import GAP, Column, Row, fit, hidden
from app.tui.widgets.guard import Guarded

__all__ = ["Column", "Row", "VirtualTable"]
MARK_WIDTH = 2
TAG_WIDTH = 5  # " +N ›" at the header's end when columns are left out


def widest(cells: Sequence[str], cap: int) -> int:
    """The widest of a column's cells, up to `cap` (wider ones are cut anyway): len() over all
    of them at C speed when the column is ASCII (most are); else rich's wide-character table
    for the cells that could still be wider (a cell takes at most two cells a character)."""
    best = min(max(map(len, cells), default=0), cap)
    if "".join(cells).isascii():
        return best
    best = min(max((len(c) for c in cells if c.isascii()), default=0), cap)
    for cell in sorted((c for c in cells if not c.isascii()), key=len, reverse=True):
        if best >= cap or 2 * len(cell) <= best:
            break
        best = min(max(best, cell_len(cell)), cap)
    return best


class VirtualTable(Guarded, ScrollView, can_focus=True):
    """Rows of text, a cursor, marks and a filter; only visible lines are rendered."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "vtable--header", "vtable--cursor", "vtable--cursor-blur", "vtable--marked",
        "vtable--muted", "vtable--empty", "vtable--ok", "vtable--bad", "vtable--busy",
        "vtable--stopped",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, tooltip="Previous row"),
        Binding("down,j", "cursor(1)", "Down", show=False, tooltip="Next row"),
        Binding("pageup", "page(-1)", "Page up", show=False, tooltip="A page up"),
        Binding("pagedown", "page(1)", "Page down", show=False, tooltip="A page down"),
        Binding("home,g", "jump(0)", "First row", show=False, tooltip="First row"),
        Binding("end,G", "jump(-1)", "Last row", show=False, tooltip="Last row"),
        Binding("right,l", "scroll_columns(1)", "More columns", show=False,
                tooltip="Columns to the right: the ones '+N ›' in the header says are hidden,"
                        " or cut ones in full"),
        Binding("left,h", "scroll_columns(-1)", "Columns back", show=False,
                tooltip="Columns back to the left ('‹' in the header)"),
    ]

    class Highlighted(Message):
        """The cursor moved to another row."""

        def __init__(self, table: VirtualTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, VirtualTable.Highlighted) and message.table is self.table

    class Selected(Message):
        """A row was chosen with enter or a double click."""

        def __init__(self, table: VirtualTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        markable: bool = False,
        newest_first: bool = False,
        empty_text: str = "Nothing here yet.",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.columns = list(columns)
        self.markable = markable
        # Newest rows come on top: the cursor at the top follows them; elsewhere it stays put
        # and `unseen` counts the rows that came above it (the pane's title says "N new").
        self.newest_first = newest_first
        self.unseen_keys: set[str] = set()
        self.skip = 0  # columns scrolled off on the left (left/right keys)
        self.empty_text = empty_text
        self.rows: list[Row] = []
        self.view: list[Row] = []
        self.marked: set[str] = set()
        self.cursor = 0
        self.filter_text = ""
        self._natural = [max(c.min_width, len(c.label)) for c in self.columns]
        self._layout: list[tuple[int, int]] = []  # (column index, width) of shown columns
        self._layout_width = -1
        self._memo: dict[str, Style] = {}

    def notify_style_update(self) -> None:
        self._memo.clear()
        super().notify_style_update()

    # ---- data ----------------------------------------------------------------------
    def set_rows(self, rows: Iterable[Row]) -> None:
        """Replace all rows, keeping the cursor on the same key when it is still there."""
        current = self.current_key
        at_top = self.newest_first and self.cursor == 0 and int(self.scroll_offset.y) == 0
        before = {r.key for r in self.rows} if self.newest_first else set()
        self.rows = list(rows)
        keys = {r.key for r in self.rows}
        self.marked &= keys
        self.unseen_keys &= keys
        by_column = list(zip(*(r.cells for r in self.rows), strict=False))
        by_column += [()] * (len(self.columns) - len(by_column))
        natural = [max(c.min_width, len(c.label), widest(cells, c.max_width))
                   for c, cells in zip(self.columns, by_column, strict=False)]
        if natural != self._natural:
            self._natural = natural
            self._layout_width = -1
        self._refilter(None if at_top else current)
        if self.newest_first and not at_top and before:
            self.unseen_keys |= {r.key for r in self.view[:self.cursor] if r.key not in before}

    def set_filter(self, text: str) -> None:
        if text != self.filter_text:
            self.filter_text = text
            self._refilter(self.current_key)

    def _refilter(self, keep: str | None) -> None:
        self.view = query.apply(self.rows, self.filter_text)
        self.cursor = 0
        if keep is not None:
            for index, row in enumerate(self.view):
                if row.key == keep:
                    self.cursor = index
                    break
        self.cursor = max(0, min(self.cursor, len(self.view) - 1))
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.view) + 1)
        self._scroll_cursor_into_view()
        self.refresh()
        self.post_message(self.Highlighted(self, self.current_key))

    @property
    def current_key(self) -> str | None:
        if 0 <= self.cursor < len(self.view):
            return self.view[self.cursor].key
        return None

    @property
    def current_row(self) -> Row | None:
        return self.view[self.cursor] if 0 <= self.cursor < len(self.view) else None

    def selection(self) -> list[str]:
        """The marked rows that are visible, or else the row under the cursor."""
        if self.marked:
            return [r.key for r in self.view if r.key in self.marked] or sorted(self.marked)
        key = self.current_key
        return [key] if key else []

    def move_to(self, key: str) -> None:
        for index, row in enumerate(self.view):
            if row.key == key:
                self._set_cursor(index)
                return

    def toggle_mark(self) -> None:
        key = self.current_key
        if key is None or not self.markable:
            return
        self.marked ^= {key}
        self._set_cursor(self.cursor + 1)
        self.refresh()

    def clear_marks(self) -> bool:
        had = bool(self.marked)
        self.marked.clear()
        self.refresh()
        return had

    # ---- cursor --------------------------------------------------------------------
    @property
    def page_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    @property
    def unseen(self) -> int:
        """Rows that came above the cursor since it left the top (newest-first tables)."""
        return len(self.unseen_keys)

    def _set_cursor(self, index: int) -> None:
        index = max(0, min(index, len(self.view) - 1))
        moved = index != self.cursor
        self.cursor = index
        self._scroll_cursor_into_view()
        unseen = len(self.unseen_keys)
        if unseen:  # rows on screen now are seen
            top = int(self.scroll_offset.y) if index else 0
            self.unseen_keys &= {r.key for r in self.view[:top]}
        if moved or unseen != len(self.unseen_keys):
            self.post_message(self.Highlighted(self, self.current_key))
        self.refresh()

    def _scroll_cursor_into_view(self) -> None:
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, force=True, immediate=True)
        elif self.cursor >= top + self.page_rows:
            self.scroll_to(y=self.cursor - self.page_rows + 1, animate=False, force=True,
                           immediate=True)

    def action_cursor(self, delta: int) -> None:
        self._set_cursor(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._set_cursor(self.cursor + direction * self.page_rows)

    def action_jump(self, index: int) -> None:
        self._set_cursor(len(self.view) - 1 if index < 0 else index)

    def action_scroll_columns(self, delta: int) -> None:
        """Scroll the columns: right while some are hidden or cut, left back to the start."""
        width = self.scrollable_content_region.width
        dropped, cut = hidden(self.columns, self._natural, self._fit(width), self.skip)
        movable = sum(1 for c in self.columns if c.priority)
        if delta > 0 and not (dropped or cut) or delta < 0 and not self.skip:
            return
        self.skip = max(0, min(movable, self.skip + delta))
        self._layout_width = -1
        self.refresh()

    def key_enter(self, event: events.Key) -> None:
        key = self.current_key
        if key is not None:
            event.stop()
            self.post_message(self.Selected(self, key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        index = int(self.scroll_offset.y) + offset.y - 1
        if index < len(self.view):
            self._set_cursor(index)
            if event.chain >= 2:
                self.post_message(self.Selected(self, self.view[index].key))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # ---- layout and rendering ------------------------------------------------------
    def on_resize(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.view) + 1)
        self._layout_width = -1

    def _fit(self, width: int) -> list[tuple[int, int]]:
        if width != self._layout_width:
            avail = width - (MARK_WIDTH if self.markable else 1)
            layout = fit(self.columns, self._natural, avail, self.skip)
            if any(hidden(self.columns, self._natural, layout, self.skip)):
                # leave the header room to say so ("+N ›") without covering a label
                layout = fit(self.columns, self._natural, avail - TAG_WIDTH, self.skip)
            self._layout, self._layout_width = layout, width
        return self._layout

    @property
    def hidden_columns(self) -> int:
        """Columns not shown at this width: the ones dropped right and scrolled off left."""
        return len(self.columns) - len(self._fit(self.scrollable_content_region.width))

    @property
    def shown_columns(self) -> list[str]:
        return [self.columns[i].key for i, _ in self._fit(self.scrollable_content_region.width)]

    def _style(self, name: str) -> Style:
        """A component's style without the widget's background unless it sets one.

        The full style has colours blended (alpha, `$text-muted`) but always carries a
        background, which would hide the cursor under a coloured cell; the partial style
        says which attributes the component sets.
        """
        if name in self._memo:
            return self._memo[name]
        if name == "base":
            self._memo[name] = self.rich_style
            return self._memo[name]
        full = self.get_component_rich_style(name)
        part = self.get_component_rich_style(name, partial=True)
        self._memo[name] = Style(
            color=full.color if part.color else None,
            bgcolor=full.bgcolor if part.bgcolor else None,
            bold=part.bold, italic=part.italic, underline=part.underline, dim=part.dim,
            reverse=part.reverse, strike=part.strike,
        )
        return self._memo[name]

    def _cells(self, cells: Sequence[str], styles: Sequence[str], base: Style,
               width: int, lead: str) -> Strip:
        segments = [Segment(lead, base)]
        used = len(lead)
        for position, (index, col_width) in enumerate(self._fit(width)):
            text = cells[index]
            if cell_len(text) > col_width:
                text = set_cell_size(text, col_width - 1) + "…"
            elif self.columns[index].align_right:
                text = " " * (col_width - cell_len(text)) + text
            else:
                text = set_cell_size(text, col_width)
            style = base
            if index < len(styles) and styles[index]:
                style = base + self._style(f"vtable--{styles[index]}")
            segments.append(Segment(text, style))
            used += col_width
            if position < len(self._layout) - 1:
                segments.append(Segment(" " * GAP, base))
                used += GAP
        if used < width:
            segments.append(Segment(" " * (width - used), base))
        return Strip(segments, max(width, used)).crop(0, width)

    def _header(self, width: int, style: Style, lead: str) -> Strip:
        """The column labels; "‹" first when columns are scrolled off on the left, "+N ›"
        at the end when some are dropped on the right (or "›" when some are cut)."""
        if self.skip:
            lead = "‹" + lead[1:]
        strip = self._cells(tuple(c.label for c in self.columns), (), style, width, lead)
        dropped, cut = hidden(self.columns, self._natural, self._fit(width), self.skip)
        if not (dropped or cut) or width < 8:
            return strip
        tag = (f" +{dropped} ›" if dropped else " ›").rjust(TAG_WIDTH)
        return Strip([*strip.crop(0, width - len(tag)), Segment(tag, style)], width)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self._style("base")
        lead = " " * (MARK_WIDTH if self.markable else 1)
        if y == 0:
            return self._header(width, base + self._style("vtable--header"), lead)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self.view):
            if index == 0:
                text = self.empty_text
                if self.rows and self.filter_text:
                    text = f"No rows match {self.filter_text!r} (esc clears the filter)."
                style = base + self._style("vtable--empty")
                return Strip([Segment(set_cell_size(" " + text, width), style)], width)
            return Strip.blank(width, base)
        row = self.view[index]
        style = base
        marked = row.key in self.marked
        if marked:
            style += self._style("vtable--marked")
            lead = "●" + lead[1:]
        if index == self.cursor:  # one colour on the cursor row: legible in every theme
            style += self._style("vtable--cursor" if self.has_focus else "vtable--cursor-blur")
            return self._cells(row.cells, (), style, width, lead)
        return self._cells(row.cells, row.styles, style, width, lead)
