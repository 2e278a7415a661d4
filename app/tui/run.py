"""Opening the dashboard (kept tiny so the CLI path never imports Textual)."""

from __future__ import annotations

import asyncio
import gc
import sys


def run_dashboard() -> int:
    # No cyclic GC until the first frame is up: the imports, the inventory and the widgets
    # allocate a great deal and keep all of it, so collections would only slow the start
    # (~15 ms here). LecsApp.on_ready freezes what is alive then and turns GC back on.
    gc.disable()
    from backend import Cloud, LecsError

    try:
        cloud = asyncio.run(Cloud.open())
    except LecsError as exc:
        sys.stderr.write(f"lecs: error: {exc}\n")
        return exc.exit_code
    from app.tui.app import LecsApp

    LecsApp(cloud).run()
    cloud.close()
    return 0
