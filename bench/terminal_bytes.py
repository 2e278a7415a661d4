"""Bytes written to the terminal per second by an idle dashboard with graphs visible.

Run: python bench/terminal_bytes.py [--seconds 10] [--warmup 5] [--size 160x48]

Boots one tiny guest (t1.nano) in a temp LECS_HOME and leaves it idle, then runs each mode
in its own process on a real pseudo-terminal (pty.fork; TERM=xterm-256color, truecolor)
and counts what the process writes to the terminal over `--seconds`, after `--warmup`
seconds for start-up and the first samples:
  metrics    `lecs` on the Metrics pane: fleet trends, host panel, four charts of the
             guest and the alarm list, redrawn as the sampler (1 Hz) brings new points;
  instances  `lecs` on the Instances pane (live CPU % and uptime columns, sampler 1 Hz);
  events     `lecs` on the Events pane: the same app without live data (sampler 10 s);
  bare       a bare Textual app showing one Static (the floor: cursor, nothing else).
Target (issue 6): metrics <= 20 KB/s. Prints numbers; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MODES = ("metrics", "instances", "events", "bare")


# ---- children (each runs on the pty) ---------------------------------------------------
def child(mode: str) -> None:
    if mode == "bare":
        from textual.app import App, ComposeResult
        from textual.widgets import Static

        class Bare(App[None]):
            def compose(self) -> ComposeResult:
                yield Static("hello")

        Bare().run()
        return
    from backend import Cloud

    cloud = asyncio.run(Cloud.open())
    from app.tui.app import LecsApp

    class Bench(LecsApp):
        def on_ready(self) -> None:
            super().on_ready()
            self.action_show_pane(mode)  # as if the user pressed its digit

    Bench(cloud).run()
    cloud.close()


# ---- parent ----------------------------------------------------------------------------
def measure(mode: str, size: tuple[int, int], warmup: float, seconds: float) -> float:
    """Bytes per second the child wrote to its terminal after the warm-up."""
    cols, rows = size
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin/stdout/stderr are the pty's slave side
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.environ.update(TERM="xterm-256color", COLORTERM="truecolor")
        os.execv(sys.executable, [sys.executable, __file__, "--child", mode])
    counted, started = 0, time.monotonic()
    window_start = started + warmup
    try:
        while (now := time.monotonic()) < window_start + seconds:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                data = os.read(fd, 1 << 16)
                if now >= window_start:
                    counted += len(data)
        os.write(fd, b"\x11")  # ctrl+q: quit (the app stops its sampler on the way out)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG)[0]:
                break
            if select.select([fd], [], [], 0.1)[0]:
                os.read(fd, 1 << 16)  # keep draining: a full pty would block the child
        else:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
    except OSError:  # EIO: the child has gone
        pass
    finally:
        os.close(fd)
    return counted / seconds


async def boot(home: str) -> str:
    from backend import Cloud

    cloud = await Cloud.open(home)
    try:
        if not cloud.images.list():
            sys.exit("tiny guest not built: python sample_data/build_guest.py")
        inst = await cloud.instances.create("idle-1", "tiny", "t1.nano", wait=True,
                                            wait_timeout=120)
        return inst.id
    finally:
        cloud.close()


async def teardown(home: str, instance_id: str) -> None:
    from backend import Cloud

    cloud = await Cloud.open(home)
    try:
        await cloud.instances.delete(instance_id)
    finally:
        cloud.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=MODES)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--size", default="160x48", help="COLSxROWS")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    cols, rows = (int(n) for n in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        home = str(Path(tmp) / "home")
        os.environ["LECS_HOME"] = home
        instance_id = asyncio.run(boot(home))
        try:
            print(f"one idle t1.nano guest; terminal {cols}x{rows}; counting {args.seconds:g} s "
                  f"after {args.warmup:g} s of warm-up per mode", flush=True)
            rates = {}
            for mode in MODES:
                rates[mode] = measure(mode, (cols, rows), args.warmup, args.seconds)
                print(f"  {mode:<10} {rates[mode] / 1024:8.2f} KiB/s  ({rates[mode]:.0f} B/s)",
                      flush=True)
        finally:
            asyncio.run(teardown(home, instance_id))
    graphs = rates["metrics"]
    verdict = "ok" if graphs <= 20 * 1024 else "OVER"

    def ratio(base: str) -> str:
        extra = f"+{(graphs - rates[base]) / 1024:.2f} KiB/s over {base}"
        return f"{graphs / rates[base]:.1f}x {base} ({extra})" if rates[base] >= 1 else extra

    print(f"metrics pane: {graphs / 1024:.2f} KiB/s (target <= 20 KiB/s: {verdict}); "
          f"{ratio('events')}; {ratio('bare')}")


if __name__ == "__main__":
    main()
