"""`lecs serve` as a process: SIGTERM stops it cleanly (exit 0, the inventory free again), a
SIGKILLed serve leaves nothing that blocks the next, doctor says where it runs, --unit."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

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
    """With serve running, the dashboard's sampler follows (serve samples and judges alarms,
    the dashboard announces serve's alarm changes) and its header says where serve answers;
    once serve stops, the header forgets it and the dashboard samples itself."""
    from app.tui.app import LecsApp
    from app.tui.widgets.header import HostHeader
    from backend import Cloud
    from backend.monitoring.records import AlarmState
    from tests.test_dashboard import plain, wait_for

    with running_serve(home) as srv:
        cloud = await Cloud.open(str(home))
        try:
            app = LecsApp(cloud, sampler=True, poll_interval=0.2)
            async with app.run_test(size=(160, 40)) as pilot:
                header = app.query_one(HostHeader)
                await wait_for(pilot, lambda: header.serve == srv.address)
                assert f"serve {srv.address}" in plain(header)
                await wait_for(pilot, lambda: app.monitoring and cloud.metrics.sampler.active)
                await pilot.pause(1.5)
                assert not cloud.metrics.sampler.leading  # serve samples for everyone
                assert cloud.metrics.status().holder_pid == srv.proc.pid
                lecs(home, "alarm", "create", "always", "--resource", "host", "--metric",
                     "host_mem_util", "--comparison", ">=", "--threshold", "0",
                     "--period", "5s")
                await wait_for(pilot, lambda: any(
                    c.name == "always" and c.new is AlarmState.ALARM
                    for c in cloud.alarms.recent), timeout=60)
                srv.proc.send_signal(signal.SIGTERM)
                srv.proc.wait(30)
                await wait_for(pilot, lambda: header.serve == "")
                await wait_for(pilot, lambda: cloud.metrics.sampler.leading)
        finally:
            cloud.close()


def test_tls(home: Path, tmp_path: Path) -> None:
    """--tls-cert/--tls-key: the API answers over HTTPS only, with ECS's error JSON."""
    import ssl
    import subprocess
    import urllib.error
    import urllib.request

    from tests.serve_helpers import make_key, start_serve

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    make_key(home)
    bad = lecs(home, "serve", "--tls-cert", str(cert), check=False)
    assert bad.returncode == 2 and "go together" in bad.stderr
    proc, log = start_serve(home, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        paths = Paths.from_env(str(home))
        for _ in range(300):
            info = running(paths)
            if info is not None or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert info is not None and info.address.startswith("https://127.0.0.1:"), \
            log.read_text()
        ctx = ssl.create_default_context(cafile=str(cert))
        try:
            urllib.request.urlopen(f"{info.address}?Action=DescribeRegions", context=ctx,
                                   timeout=30)
            raise AssertionError("an unsigned request was answered")
        except urllib.error.HTTPError as err:
            status, body = err.code, json.loads(err.read())
        assert (status, body["Code"]) == (400, "IncompleteSignature") and body["RequestId"]
        try:  # another path or method: ECS's JSON as well
            urllib.request.urlopen(urllib.request.Request(
                f"{info.address}v2/instances", method="PUT"), context=ctx, timeout=30)
            raise AssertionError("PUT /v2/instances was answered")
        except urllib.error.HTTPError as err:
            status, body = err.code, json.loads(err.read())
        assert (status, body["Code"]) == (404, "InvalidAction.NotFound") and body["RequestId"]
        with pytest.raises(OSError):  # plain HTTP gets no answer
            urllib.request.urlopen(info.address.replace("https", "http"), timeout=10)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_serve_recovers_what_a_killed_cli_left(home: Path) -> None:
    """A CLI killed mid-operation while serve runs: serve recovers it within seconds."""
    import subprocess
    import sys

    with running_serve(home) as srv:
        env = dict(os.environ, LECS_HOME=str(home), LECS_CRASH="accesskey.create:secret#1")
        killed = subprocess.run([sys.executable, "-m", "app.main", "accesskey", "create",
                                 "half"], env=env, capture_output=True, text=True, timeout=60)
        assert killed.returncode == -signal.SIGKILL
        assert len(list((home / "accesskeys").glob("*.secret"))) == 2  # the tester's + half's
        deadline = time.monotonic() + 40
        while len(list((home / "accesskeys").glob("*.secret"))) > 1:
            assert time.monotonic() < deadline, srv.log_text()
            time.sleep(0.5)
        assert "recovered what a killed process left: accesskey.create" in srv.log_text()


def test_a_read_only_inventory_is_refused(tmp_path: Path) -> None:
    """On a read-only mount (root ignores file modes), serve refuses in one line."""
    import subprocess

    mount = tmp_path / "ro"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256M,mode=0700", "tmpfs", str(mount)],
            capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a tmpfs")
    home = mount / "home"
    try:
        lecs(home, "accesskey", "list")  # makes the inventory
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        refused = lecs(home, "serve", "--port", "0", check=False)
        assert refused.returncode == 1 and "read-only here" in refused.stderr
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
