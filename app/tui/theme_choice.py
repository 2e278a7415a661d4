"""The theme an operator last picked (ctrl+t or the palette), kept across restarts in a 0600
file under LECS_HOME: `dashboard.json`, `{"theme": "lecs-light"}`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from app.tui.themes import THEMES

FILE = "dashboard.json"


def load(home: Path) -> str | None:
    """The saved theme's name, or None (no file, unreadable, or a theme that is gone)."""
    try:
        name = json.loads((home / FILE).read_text()).get("theme")
    except (OSError, ValueError, AttributeError):
        return None
    return name if name in THEMES else None


def save(home: Path, name: str) -> None:
    """Write the choice (0600, replaced whole: a crash leaves the old file or the new one)."""
    path = home / FILE
    tmp = path.with_name(f".{FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, json.dumps({"theme": name}).encode() + b"\n")
    finally:
        os.close(fd)
    os.replace(tmp, path)
