"""Columns and rows of the virtual table, and how columns fit a width (pure, no Textual)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

GAP = 2


@dataclass(slots=True, frozen=True)
class Column:
    key: str
    label: str
    min_width: int = 4
    max_width: int = 40
    priority: int = 0  # 0 is always shown; the highest numbers go first when narrow
    align_right: bool = False
    flex: bool = False  # counts at min_width when fitting, then takes the room left over


@dataclass(slots=True)
class Row:
    key: str
    cells: tuple[str, ...]
    styles: tuple[str, ...] = ()  # component class per cell ("" = plain)
    fields: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    haystack: str = ""

    def __post_init__(self) -> None:
        if not self.haystack:
            self.haystack = " ".join(self.cells).lower()


def fit(columns: Sequence[Column], natural: Sequence[int], avail: int) -> list[tuple[int, int]]:
    """(column index, width) of the columns that fit in `avail` cells.

    Columns with the highest priority numbers are dropped first (0 is never dropped); then
    the widest columns shrink towards their min_width; flex columns, counted at min_width
    until then, grow into whatever room is left, up to their natural width.
    """
    shown = list(range(len(columns)))
    widths = [c.min_width if c.flex else n for c, n in zip(columns, natural, strict=True)]

    def total() -> int:
        return sum(widths[i] for i in shown) + GAP * (len(shown) - 1)

    for index in sorted(shown, key=lambda i: -columns[i].priority):
        if total() <= avail or columns[index].priority == 0:
            break
        shown.remove(index)
    while total() > avail:  # still too wide: shrink the widest column that can give
        widest = max(shown, key=lambda i: widths[i] - columns[i].min_width)
        if widths[widest] <= columns[widest].min_width:
            break
        widths[widest] -= min(total() - avail, widths[widest] - columns[widest].min_width)
    for index in shown:
        if columns[index].flex and total() < avail:
            widths[index] += min(avail - total(), natural[index] - widths[index])
    return [(i, widths[i]) for i in shown]
