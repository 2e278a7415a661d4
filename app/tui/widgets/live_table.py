"""A VirtualTable for rows that change in place every second (live metrics).

`set_rows` repaints the whole table, which for a fleet whose CPU figures move each second
is most of the bytes an idle dashboard writes to the terminal. `update_rows` repaints only
the lines whose cells changed, as long as the same rows are shown with the same column
widths; anything else (rows added or gone, a filter, wider cells) falls back to `set_rows`.
Lines are drawn with one segment per run of one style, so a repaint carries few escapes.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from textual.strip import Strip

from app.tui.widgets.vtable import Row, VirtualTable


class LiveTable(VirtualTable):
    def render_line(self, y: int) -> Strip:
        # One segment per run of one style, not per cell: fewer escape codes per repaint.
        return super().render_line(y).simplify()

    def _widths(self, rows: Sequence[Row]) -> list[int]:
        """The natural column widths, as `set_rows` measures them."""
        out = []
        for index, column in enumerate(self.columns):
            widest = max((cell_len(r.cells[index]) for r in rows), default=0)
            out.append(max(column.min_width, len(column.label), min(widest, column.max_width)))
        return out

    def update_rows(self, rows: Sequence[Row]) -> None:
        old = self.rows
        same = (not self.filter_text and len(rows) == len(old)
                and all(a.key == b.key for a, b in zip(old, rows, strict=True)))
        if not same or self._widths(rows) != self._natural:
            self.set_rows(rows)
            return
        self.rows = list(rows)
        self.view = list(self.rows)
        for index, (before, after) in enumerate(zip(old, rows, strict=True)):
            if before != after:
                self.refresh_line(index + 1)  # line 0 is the header
