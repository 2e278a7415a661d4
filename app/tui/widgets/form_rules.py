"""The one rule every dialog's fields follow, and the errors they show.

- A grey placeholder is a default: a blank field means exactly the placeholder (`entered`).
  A field with no default has no placeholder (an example goes in its label or tooltip).
- Every error is one short line that fits the dialog (`fit`): names say "too long" past 64
  characters and "required" when blank and without a default; a long value the backend
  quotes is shortened, never the sentence.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from textual.widgets import Input

from backend.inventory import validate
from backend.inventory.errors import ValidationError

NAME_MAX = 64
ERROR_WIDTH = 64  # a dialog 72 wide, less its border and padding
QUOTED = re.compile(r"'([^']{16})[^']{2,}'")


def entered(field: Input) -> str:
    """What a field means: what was typed, or (blank) its placeholder, the default."""
    return field.value.strip() or field.placeholder


def fit(text: str, width: int = ERROR_WIDTH) -> str:
    """`text` on one line of `width`: quoted values the backend echoes are shortened."""
    text = " ".join(text.split())
    return QUOTED.sub(r"'\1…'", text) if len(text) > width else text


def free_name(base: str, taken: Collection[str]) -> str:
    """`base`, else `base-2`, `base-3`…: the first that is not taken (a default name)."""
    base = base[:NAME_MAX - 4]
    return next(n for i in range(1, 10_000)
                if (n := base if i == 1 else f"{base}-{i}") not in taken)


def name_error(value: str, what: str, taken: Collection[str] = ()) -> str:
    """The error for a new name ("" when the backend would take it), in one line."""
    if not value:
        return f"a {what} is required"
    if len(value) > NAME_MAX:
        return f"{what} too long: {len(value)} characters, at most {NAME_MAX}"
    try:
        validate.name(value, what)
    except ValidationError:
        return f"invalid {what}: letters, digits and - _ . (those not first)"
    if value in taken:
        return fit(f"a {what.split()[0]} named {value!r} exists already")
    return ""


def size_error(value: str, what: str = "disk size") -> tuple[int, str]:
    """(GiB, "") or (0, the error): blank says so rather than quoting '?'."""
    if not value:
        return 0, f"a {what} is required (GiB, 1-16384)"
    try:
        return validate.size_gib(value, what), ""
    except ValidationError as exc:
        return 0, fit(str(exc))
