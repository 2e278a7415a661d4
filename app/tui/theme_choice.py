"""The theme an operator last picked (ctrl+t or the palette), kept across restarts in a 0600
file under LECS_HOME: `dashboard.json`, `{"theme": "lecs-light"}`; and the App's theme keys."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from app.tui.themes import THEMES, default_theme, start_theme

if TYPE_CHECKING:
    from textual.app import App

    from backend import Cloud

    AppBase = App[None]
else:
    AppBase = object  # a mixin of LecsApp: no second App subclass to build at start

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


class ThemeChoice(AppBase):
    """The App's theme keys (a mixin): ctrl+t and the palette's "Theme: …" pick a theme and
    keep it for the next start."""

    cloud: Cloud

    def start_in_saved_theme(self) -> None:
        """Before the stylesheet is made: LECS_THEME, NO_COLOR, else the one last picked."""
        for theme in THEMES.values():
            self.register_theme(theme)
        start_theme(self, default_theme(saved=load(self.cloud.paths.home)))

    def set_theme(self, name: str) -> None:
        self.theme = name
        self._save_theme()

    def _save_theme(self) -> None:
        try:
            save(self.cloud.paths.home, self.theme)
        except OSError as exc:
            self.notify(f"theme not saved: {exc.strerror}", severity="warning")

    def action_cycle_theme(self) -> None:
        names = list(THEMES)
        current = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(current + 1) % len(names)]
        self._save_theme()
        self.notify(f"theme: {self.theme}")
