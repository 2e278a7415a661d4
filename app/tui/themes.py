"""The dashboard's registered themes: dark, light and high-contrast.

Colours live here, as `Theme` objects; `themes/*.tcss` only names `$variables`. Each theme
also defines the `state-*` variables the tables use to colour instance states.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath
from typing import Any

from textual.app import App
from textual.css.stylesheet import Stylesheet
from textual.theme import Theme

THEMES_DIR = Path(__file__).resolve().parents[2] / "themes"
CSS_PATHS: list[str | PurePath] = [THEMES_DIR / "lecs.tcss"]  # what the first frame shows
DIALOG_CSS = THEMES_DIR / "dialogs.tcss"  # the rest: read once the first frame is up

DARK = Theme(
    name="lecs-dark",
    primary="#4C9BE8",
    secondary="#2E5E8C",
    accent="#F0A35E",
    warning="#E5C07B",
    error="#E06C75",
    success="#98C379",
    foreground="#DCDFE4",
    background="#1B1F27",
    surface="#232832",
    panel="#2C3340",
    dark=True,
    variables={
        "state-running": "#98C379",
        "state-busy": "#E5C07B",
        "state-stopped": "#8B93A1",
        "state-error": "#E06C75",
        "mark": "#C678DD",
        "footer-key-foreground": "#4C9BE8",
    },
)

LIGHT = Theme(
    name="lecs-light",
    primary="#1F5FA8",
    secondary="#4B7DB8",
    accent="#B3541E",
    warning="#8A6100",
    error="#B3261E",
    success="#2E7D32",
    foreground="#1F2328",
    background="#F6F8FA",
    surface="#EAEEF2",
    panel="#DDE3EA",
    dark=False,
    variables={
        "state-running": "#2E7D32",
        "state-busy": "#8A6100",
        "state-stopped": "#57606A",
        "state-error": "#B3261E",
        "mark": "#8250DF",
        "footer-key-foreground": "#1F5FA8",
    },
)

HIGH_CONTRAST = Theme(
    name="lecs-high-contrast",
    primary="#FFFF00",
    secondary="#00FFFF",
    accent="#FF00FF",
    warning="#FFFF00",
    error="#FF5555",
    success="#00FF00",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#1A1A1A",
    dark=True,
    luminosity_spread=0.25,
    text_alpha=1.0,
    variables={
        "state-running": "#00FF00",
        "state-busy": "#FFFF00",
        "state-stopped": "#C0C0C0",
        "state-error": "#FF5555",
        "mark": "#FF00FF",
        "footer-key-foreground": "#FFFF00",
        "block-cursor-background": "#FFFF00",
        "block-cursor-foreground": "#000000",
    },
)

THEMES: dict[str, Theme] = {t.name: t for t in (DARK, LIGHT, HIGH_CONTRAST)}
SHORT_NAMES = {"dark": DARK.name, "light": LIGHT.name, "high-contrast": HIGH_CONTRAST.name}


def default_theme(environ: dict[str, str] | None = None, saved: str | None = None) -> str:
    """LECS_THEME picks a theme; with NO_COLOR set the high-contrast one reads best in mono;
    else the one last picked (`saved`), else dark."""
    env = os.environ if environ is None else environ
    wanted = env.get("LECS_THEME", "").strip()
    if wanted in THEMES:
        return wanted
    if wanted in SHORT_NAMES:
        return SHORT_NAMES[wanted]
    if "NO_COLOR" in env:
        return HIGH_CONTRAST.name
    return saved if saved in THEMES else DARK.name


class ThemedStylesheet(Stylesheet):
    """Textual's stylesheet, minus repeated parsing of the same CSS.

    Textual sets the CSS variables and re-parses every source in a fresh stylesheet on each
    CSS refresh, theme unchanged or not, and that fresh sheet's parse cache is dropped: the
    dashboard's start parsed themes/lecs.tcss twice (~7 ms each here). Here variables that
    did not change keep the cache, and a re-parse parses in place through it, so only
    sources that are new or whose variables changed are parsed. A parse error still leaves
    the previous rules in force (`parse` assigns them only once every source parsed).
    """

    def set_variables(self, variables: dict[str, str]) -> None:
        if variables != self._variables:
            super().set_variables(variables)

    def reparse(self) -> None:
        self._require_parse = True
        self.parse()


def start_theme(app: App[Any], name: str) -> None:
    """Set the theme an app starts with, before its stylesheet is made: what App._watch_theme
    does, minus the CSS refresh it queues (a re-parse and a restyle of every widget after the
    first compose, ~5 ms at start) that a stylesheet built with this theme's variables does
    not need. Later changes go through `app.theme = …` as usual."""
    app.set_reactive(App.theme, name)
    dark = app.current_theme.dark
    app.set_class(True, f"-theme-{name}", update=False)
    app.set_class(dark, "-dark-mode", update=False)
    app.set_class(not dark, "-light-mode", update=False)
    app._refresh_truecolor_filter(app.ansi_theme)


def load_dialog_css(app: App[Any]) -> None:
    """Read themes/dialogs.tcss (dialogs, detail screens, the panes shown later) into the
    app's stylesheet and restyle: once, after the first frame, which does not parse it."""
    if app.stylesheet.has_source(str(DIALOG_CSS), ""):
        return
    app.stylesheet.read(DIALOG_CSS)
    app.stylesheet.reparse()
    app.stylesheet.update(app)
