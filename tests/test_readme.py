"""README's CLI examples run as written, in order, on a fresh inventory (issue #13).

Every indented block of README's "## CLI" section whose lines start with `lecs` (or `curl`)
is run line by line by bash, as a user pasting it would, with `lecs` on PATH. The only
changes: example.org becomes a local HTTP server serving a real image, SHA256 its checksum;
the files the examples name (./debian-12.qcow2, vmlinux, initrd.gz, ./disk.img, ./setup.sh,
~/.ssh/id_ed25519) are made first in the working directory and a HOME of the test's own.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.qemu


def examples() -> list[str]:
    """The commands of README's CLI section, continuation lines joined."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## CLI\n"):]
    section = section[:section.index("\n## ", 5)]
    commands: list[str] = []
    pending = ""
    for line in section.splitlines():
        if not line.startswith("    "):
            continue
        body = line[4:]
        if pending:
            pending += " " + body.strip()
        elif body.startswith(("lecs ", "curl ")):
            pending = body
        else:
            continue
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        commands.append(pending)
        pending = ""
    return commands


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    root = tmp_path / "www"
    root.mkdir()
    image = root / "cloud.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "32M"], check=True)
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cloud.qcow2", digest
    finally:
        server.shutdown()


@pytest.mark.timeout(360)  # ~50 commands, four guest boots: ~130 s here, more under load
def test_readme_cli_examples_run_as_written(home: Path, tmp_path: Path, tiny_guest: Path,
                                            served: tuple[str, str]) -> None:
    url, digest = served
    work = tmp_path / "work"
    work.mkdir()
    user_home = tmp_path / "user"
    (user_home / ".ssh").mkdir(parents=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "me@readme", "-f",
                    str(user_home / ".ssh" / "id_ed25519")], check=True,
                   stdin=subprocess.DEVNULL)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(work / "debian-12.qcow2"),
                    "64M"], check=True)
    (work / "disk.img").write_bytes(b"\0" * (1 << 20))
    shutil.copy(tiny_guest / "vmlinux", work / "vmlinux")
    shutil.copy(tiny_guest / "initrd.gz", work / "initrd.gz")
    (work / "setup.sh").write_text("#!/bin/sh\necho set up by readme\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "lecs").write_text(f"#!/bin/sh\nexec {sys.executable} -m app.main \"$@\"\n")
    (bin_dir / "lecs").chmod(0o755)
    env = dict(os.environ, LECS_HOME=str(home), HOME=str(user_home),  # (guest: not in HOME)
               LECS_GUEST_DIR=str(tiny_guest),
               PATH=f"{bin_dir}:{os.environ['PATH']}", PYTHONPATH=str(REPO))
    commands = examples()
    assert len(commands) >= 40, commands
    for command in commands:
        line = command.replace("https://example.org/cloud.qcow2", url)
        line = re.sub(r"--checksum SHA256\b", f"--checksum {digest}", line)
        run = subprocess.run(["bash", "-c", f"set -o pipefail; {line}"], cwd=work, env=env,
                             capture_output=True, text=True, stdin=subprocess.DEVNULL,
                             timeout=240)
        assert run.returncode == 0, f"{command}\n{run.stdout[-800:]}\n{run.stderr[-800:]}"
        assert "internal error" not in run.stderr and "Traceback" not in run.stderr, command
        if command.startswith("curl "):
            assert "lecs tiny guest" in run.stdout  # the guest's own page, through the forward
    assert "instance.create" in (work / "events.csv").read_text()
