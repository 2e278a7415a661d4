"""A closed terminal (SIGHUP) or SIGTERM ends the dashboard cleanly, like `q`: exit status 0,
the terminal restored, and no operation left in the journal."""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _read_for(fd: int, seconds: float) -> bytes:
    out = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_signal_ends_the_dashboard_cleanly(home: Path, signum: int) -> None:
    main, child = os.openpty()
    env = dict(os.environ, LECS_HOME=str(home), TERM="xterm-256color", COLUMNS="80",
               LINES="24")
    proc = subprocess.Popen([sys.executable, "-m", "app.main"], cwd=REPO, env=env,
                            stdin=child, stdout=child, stderr=child, start_new_session=True)
    os.close(child)
    try:
        shown = _read_for(main, 8.0)
        assert b"lecs" in shown or b"Instances" in shown
        proc.send_signal(signum)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
    conn = sqlite3.connect(home / "lecs.db")
    try:
        assert conn.execute("SELECT COUNT(*) FROM operations").fetchone() == (0,)
    finally:
        conn.close()
