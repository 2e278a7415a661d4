"""passt: a user-mode instance's egress NIC, sealed from the host (no root).

QEMU's slirp (`-netdev user`) maps its gateway 10.0.2.2 to the host's 127.0.0.1 and has no
option to stop it (libslirp's `disable_host_loopback` is not exposed by QEMU 7.2), so a guest
with egress reached every loopback service of the host and every other instance's "from this
host" forward. So slirp only carries the ingress forwards, `restrict=on` (it reaches nothing
itself; `hostfwd_add/remove` still change forwards live), and egress goes through a second
NIC served by passt with `--no-map-gw`: passt gives the guest the host's own address and
gateway and makes real sockets for the guest's connections, so the host's loopback is not
reachable, nor the host's primary address (it is the guest's own). An egress rule that
names the host's loopback (all to 127.0.0.1/32) launches passt without `--no-map-gw`: the
gateway address then leads to the host's loopback (every port: passt maps it whole).

QEMU listens on `egress.sock` (`-netdev stream,server=on`); lecs connects to it and hands the
connected socket to passt (`--fd`), which daemonizes and writes `passt.pid`. QEMU 7.2
re-accepts after a client goes, so a passt that died is replaced while the guest runs. With
`--one-off` passt exits when QEMU closes the socket: it never outlives its QEMU for long,
and lecs also stops it wherever QEMU is stopped (LocalDriver.cleanup). A passt is acted on
only when its pid file, command line (this instance's runtime dir), name and start time
(`passt.proof`, written after launch) prove it is this instance's.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from backend.inventory.errors import QemuError
from backend.inventory.journal import process_start

BINARY = "passt"
APT = "apt-get install passt"
SOCKET, PIDFILE, PROOF, LOG, MODE = "egress.sock", "passt.pid", "passt.proof", "passt.log", \
    "egress.mode"
# egress.mode: how the running QEMU's egress was launched (read by the enforcer and details)
SEALED, HOST, UNSEALED, NONE = "sealed", "host-loopback", "unsealed", "none"


def available() -> bool:
    return shutil.which(BINARY) is not None


def argv(rundir: Path, fd: int, host_loopback: bool) -> list[str]:
    """passt's command line: IPv4 only (the rule model's), no inbound ports, one client."""
    args = [BINARY, "--quiet", "--one-off", "--fd", str(fd), "--pid", str(rundir / PIDFILE),
            "--log-file", str(rundir / LOG), "--ipv4-only", "--tcp-ports", "none",
            "--udp-ports", "none"]
    if not host_loopback:
        args.append("--no-map-gw")
    if os.geteuid() == 0:  # passt drops root to `nobody`, who could not write the 0700 dir
        args += ["--runas", f"{os.getuid()}:{os.getgid()}"]
    return args


def read_pid(rundir: Path) -> int | None:
    try:
        text = (rundir / PIDFILE).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return []
    return [comm, *(a.decode(errors="replace") for a in raw.split(b"\0") if a)]


def proven(rundir: Path) -> int | None:
    """The pid of the live passt that is this instance's, or None."""
    pid = read_pid(rundir)
    if pid is None:
        return None
    started = process_start(pid)  # None: gone, or a zombie
    if started is None:
        return None
    words = _cmdline(pid)
    if not words or not words[0].startswith(BINARY):
        return None
    if not any(str(rundir / PIDFILE) == w for w in words[1:]):
        return None
    try:
        recorded = (rundir / PROOF).read_text().split()
    except OSError:
        recorded = []
    if len(recorded) == 2 and recorded[0] == str(pid) and recorded[1] != str(started):
        return None  # the pid was reused by another passt
    return pid


def _connect(sock: socket.socket, path: Path, timeout: float) -> None:
    """Connect to QEMU's egress socket, waiting for it to listen: a loaded machine may let
    the daemonized QEMU's parent exit a moment before the stream netdev's socket is there."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock.connect(str(path))
            return
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def launch(rundir: Path, host_loopback: bool, timeout: float = 5.0) -> int:
    """Connect to QEMU's egress socket and start passt on it; returns passt's pid."""
    stop(rundir)  # never two: a stale one of this instance goes first
    (rundir / PIDFILE).unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        _connect(sock, rundir / SOCKET, timeout)
        try:
            proc = subprocess.run(argv(rundir, sock.fileno(), host_loopback),
                                  pass_fds=[sock.fileno()], stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=timeout,
                                  check=False, cwd=rundir, start_new_session=True)
        except FileNotFoundError:
            raise QemuError(f"passt is not installed: {APT} (see `lecs doctor`)") from None
    except OSError as exc:
        raise QemuError(f"cannot attach passt to QEMU's egress socket: {exc}") from None
    finally:
        sock.close()
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines()
                 if ln.strip() and not ln.startswith("Failed to send")]
        raise QemuError(f"passt failed to start: {lines[-1] if lines else proc.returncode}")
    pid = read_pid(rundir)
    if pid is None:
        raise QemuError("passt started but wrote no pid file")
    (rundir / PROOF).write_text(f"{pid} {process_start(pid)}\n")
    (rundir / PROOF).chmod(0o600)
    return pid


def stop(rundir: Path, timeout: float = 2.0) -> bool:
    """Stop this instance's passt if one is proven to run; True if one was stopped."""
    pid = proven(rundir)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process_start(pid) is not None:
        time.sleep(0.01)
    if proven(rundir) == pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return True


def mode(rundir: Path) -> str:
    try:
        return (rundir / MODE).read_text().strip()
    except OSError:
        return ""


def write_mode(rundir: Path, value: str) -> None:
    path = rundir / MODE
    path.write_text(value + "\n")
    path.chmod(0o600)


def status(rundir: Path) -> str:
    """One line for an instance's details: how its egress is served right now."""
    launched = mode(rundir)
    if launched in (SEALED, HOST):
        if proven(rundir) is None:
            return "egress down: its passt exited (lecs restarts it on the next reconcile)"
        return ("egress through passt, host loopback sealed" if launched == SEALED else
                "egress through passt, the host's loopback reachable (a rule names it)")
    if launched == UNSEALED:
        return ("UNSEALED: passt is not installed, egress through slirp reaches the host's"
                f" loopback and other instances' forwards ({APT})")
    if launched == NONE:
        return "no egress (denied by its groups)"
    return ""


RUNTIME_FILES = (SOCKET, PIDFILE, PROOF, MODE)
