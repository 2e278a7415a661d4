"""Opening the dashboard (kept tiny so the CLI path never imports Textual)."""

from __future__ import annotations

import asyncio
import sys


def run_dashboard() -> int:
    from backend import Cloud, LecsError

    try:
        cloud = asyncio.run(Cloud.open())
    except LecsError as exc:
        sys.stderr.write(f"lecs: error: {exc}\n")
        return exc.exit_code
    from app.ui import LecsApp

    LecsApp(cloud).run()
    cloud.close()
    return 0
