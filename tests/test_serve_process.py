"""`lecs serve` as a process: SIGTERM stops it cleanly (exit 0, the inventory free again), a
SIGKILLed serve leaves nothing that blocks the next, doctor says where it runs, --unit."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from backend.api.presence import running, state_path
from backend.inventory.paths import Paths
from tests.serve_helpers import lecs, running_serve


def test_stop_kill_restart_doctor_and_unit(home: Path) -> None:
    paths = Paths.from_env(str(home))
    with running_serve(home) as srv:
        checks = {c["check"]: c for c in json.loads(
            lecs(home, "doctor", "--json", check=False).stdout)}
        assert checks["serve"]["detail"] == f"runs: pid {srv.proc.pid}, the ECS API on" \
                                            f" {srv.address}"
        assert state_path(paths).stat().st_mode & 0o777 == 0o600
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(30) == 0, srv.log_text()
        assert "lecs serve: stopped" in srv.log_text()
    assert running(paths) is None and not state_path(paths).exists()
    checks = {c["check"]: c for c in json.loads(
        lecs(home, "doctor", "--json", check=False).stdout)}
    assert checks["serve"]["detail"].startswith("not running")

    with running_serve(home, key_name="again") as srv:
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(30)
        assert state_path(paths).exists() and running(paths) is None  # a dead pid is no serve
    with running_serve(home, key_name="third") as srv:  # the lock went with the killed one
        assert running(paths) is not None and running(paths).pid == srv.proc.pid

    unit = lecs(home, "serve", "--unit", "--port", "9999").stdout
    assert f"Environment=LECS_HOME={home}" in unit
    assert "serve --host 127.0.0.1 --port 9999" in unit and "[Install]" in unit


async def test_dashboard_follows_serve(home: Path) -> None:
    """With serve running, the dashboard does not sample (serve does) and its header says
    where serve answers; with serve gone, the header says nothing of it."""
    from app.tui.app import LecsApp
    from app.tui.widgets.header import HostHeader
    from backend import Cloud
    from tests.test_dashboard import plain, wait_for

    with running_serve(home) as srv:
        cloud = await Cloud.open(str(home))
        try:
            app = LecsApp(cloud, sampler=True, poll_interval=0.2)
            async with app.run_test(size=(160, 40)) as pilot:
                header = app.query_one(HostHeader)
                await wait_for(pilot, lambda: header.serve == srv.address)
                assert f"serve {srv.address}" in plain(header)
                await wait_for(pilot, lambda: app.monitoring)
                assert not cloud.metrics.sampler.active  # serve samples for everyone
                assert cloud.metrics.status().holder_pid == srv.proc.pid
                srv.proc.send_signal(signal.SIGTERM)
                srv.proc.wait(30)
                await wait_for(pilot, lambda: header.serve == "")
        finally:
            cloud.close()
