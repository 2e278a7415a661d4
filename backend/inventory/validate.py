"""Validation of user input: names, tags, sizes, paths. Each failure is one clear line."""

from __future__ import annotations

import re
from pathlib import Path

from backend.inventory.errors import ValidationError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TAG_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$")


def name(value: str, what: str = "name") -> str:
    if not isinstance(value, str) or not NAME_RE.match(value) or value in {".", ".."}:
        raise ValidationError(
            f"invalid {what} {value!r}: use 1-64 letters, digits, '-', '_' or '.',"
            " starting with a letter or digit"
        )
    return value


def tag(raw: str) -> tuple[str, str]:
    """Parse `k=v` into a pair."""
    if "=" not in raw:
        raise ValidationError(f"invalid tag {raw!r}: expected KEY=VALUE")
    key, value = raw.split("=", 1)
    if not TAG_KEY_RE.match(key):
        raise ValidationError(f"invalid tag key {key!r}: use letters, digits and '-_.:/'")
    if len(value) > 128 or any(ord(c) < 32 for c in value):
        raise ValidationError(f"invalid tag value for {key!r}: at most 128 printable characters")
    return key, value


def tags(raws: list[str] | None) -> dict[str, str]:
    return dict(tag(raw) for raw in raws or [])


def size_gib(value: int | str, what: str = "size") -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"invalid {what} {value!r}: expected a whole number of GiB") from None
    if not 1 <= number <= 16384:
        raise ValidationError(f"invalid {what} {number}: must be between 1 and 16384 GiB")
    return number


def existing_file(value: str | Path, what: str = "file") -> Path:
    path = Path(value).expanduser()
    if not path.exists():
        raise ValidationError(f"{what} {str(value)!r} does not exist")
    if not path.is_file():
        raise ValidationError(f"{what} {str(value)!r} is not a regular file")
    return path.resolve()
