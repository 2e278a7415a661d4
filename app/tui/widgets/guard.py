"""The dashboard never dies of its own bugs: an exception in a key action or a message
handler becomes a notification and a traceback in `$LECS_HOME/logs/dashboard.log`.

Textual ends the app on any exception a message handler lets out (and the widget that raised
stops handling messages). `Guarded` goes first in the bases of the App, the panes, the
screens and our widgets: their messages are dispatched inside a try, so the app, and that
widget, carry on.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from textual.app import App

MAX_LOG = 1 << 20  # the log is started afresh past 1 MiB


def log_path(app: App[Any]) -> Path | None:
    cloud = getattr(app, "cloud", None)
    return cloud.paths.home / "logs" / "dashboard.log" if cloud is not None else None


def report(app: App[Any], where: str, error: BaseException) -> None:
    """Log the traceback, show one line: what failed, and where the details are."""
    path = log_path(app)
    text = "".join(traceback.format_exception(error))
    if path is not None:
        try:
            path.parent.mkdir(mode=0o700, exist_ok=True)
            mode = "w" if path.exists() and path.stat().st_size > MAX_LOG else "a"
            with open(path, mode, encoding="utf-8") as log:
                log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} in {where}\n{text}")
            path.chmod(0o600)
        except OSError:
            pass
    errors = getattr(app, "guarded_errors", None)
    if isinstance(errors, list):
        errors.append(f"{where}: {type(error).__name__}: {error}")
    message = f"{type(error).__name__}: {error}"[:200]
    detail = f" (details in {path})" if path is not None else ""
    app.notify(message + detail, title=f"{where} failed", severity="error", timeout=10)


class Guarded:
    """Mixin for a MessagePump (App, Screen, Widget): no handler ends the app."""

    async def _dispatch_message(self, message: Message) -> None:
        try:
            await super()._dispatch_message(message)  # type: ignore[misc]
        except Exception as error:
            app = getattr(self, "app", None) or self
            report(app, f"{type(self).__name__} {type(message).__name__}", error)
