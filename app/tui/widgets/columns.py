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


def fit(columns: Sequence[Column], natural: Sequence[int], avail: int,
        skip: int = 0) -> list[tuple[int, int]]:
    """(column index, width) of the columns that fit in `avail` cells.

    `skip` 0 is the table's first view: a column is dropped only when the columns left would
    not fit even cut to their min_width (a cut cell ends in "…"); those with the highest
    priority numbers go first, 0 never. Then columns shrink towards their min_width, those
    next to go (then the widest) first; flex columns, counted at min_width until then, grow
    into whatever room is left, up to their natural width. `skip` ≥ 1 is the horizontal
    scroll (`scrolled`).
    """
    if skip:
        return scrolled(columns, natural, avail, skip - 1)
    shown = list(range(len(columns)))
    widths = [c.min_width if c.flex else n for c, n in zip(columns, natural, strict=True)]

    def total() -> int:
        return sum(widths[i] for i in shown) + GAP * (len(shown) - 1)

    def floor() -> int:
        return sum(columns[i].min_width for i in shown) + GAP * (len(shown) - 1)

    for index in sorted(shown, key=lambda i: -columns[i].priority):
        if floor() <= avail or columns[index].priority == 0:
            break
        shown.remove(index)
    while total() > avail:  # still too wide: cut the least kept, widest column that can give
        widest = max(shown, key=lambda i: (widths[i] > columns[i].min_width,
                                           columns[i].priority, widths[i] - columns[i].min_width))
        if widths[widest] <= columns[widest].min_width:
            break
        widths[widest] -= min(total() - avail, widths[widest] - columns[widest].min_width)
    for index in shown:
        if columns[index].flex and total() < avail:
            widths[index] += min(avail - total(), natural[index] - widths[index])
    return [(i, widths[i]) for i in shown]


def scrolled(columns: Sequence[Column], natural: Sequence[int], avail: int,
             start: int) -> list[tuple[int, int]]:
    """The columns in table order from the `start`-th that may go (priority > 0), at their
    natural widths, as many as fit beside those that never go; the first one is cut to the
    room left rather than missing, so each step right shows something new."""
    movable = [i for i, c in enumerate(columns) if c.priority]
    pinned = [i for i, c in enumerate(columns) if not c.priority]
    room = avail - sum(natural[i] + GAP for i in pinned)
    chosen: dict[int, int] = {}
    for index in movable[start:]:
        width = natural[index]
        if width + GAP > room:
            if not chosen:
                chosen[index] = max(columns[index].min_width, room - GAP)
            break
        chosen[index] = width
        room -= width + GAP
    return [(i, natural[i] if i in pinned else chosen[i]) for i in range(len(columns))
            if i in pinned or i in chosen]


def hidden(columns: Sequence[Column], natural: Sequence[int],
           layout: Sequence[tuple[int, int]], skip: int) -> tuple[int, bool]:
    """How many columns a layout leaves out on the right (not those scrolled off on the
    left), and whether a shown column is cut: what the header's "+N ›" says."""
    dropped = len(columns) - len(layout) - max(0, skip - 1)
    cut = any(width < natural[i] for i, width in layout)
    return dropped, cut
