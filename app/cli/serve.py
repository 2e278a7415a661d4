"""`lecs serve`: the ECS API and always-on monitoring in the foreground; `--unit` prints a
systemd user unit that runs it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shlex
import shutil
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend import Cloud
from backend.api.presence import DEFAULT_PORT

if TYPE_CHECKING:  # aiohttp and the API load only when serve runs, not for every CLI verb
    from backend.api.run import Options


def unit(options: Options, home: Path) -> str:
    lecs = shutil.which("lecs")
    argv = [lecs] if lecs else [sys.executable, "-m", "app.main"]
    argv += ["serve", "--host", options.host, "--port", str(options.port)]
    if options.tls_cert and options.tls_key:
        argv += ["--tls-cert", str(options.tls_cert.resolve()),
                 "--tls-key", str(options.tls_key.resolve())]
    return "\n".join([
        "# ~/.config/systemd/user/lecs-serve.service; then:",
        "#   systemctl --user daemon-reload && systemctl --user enable --now lecs-serve",
        "[Unit]",
        f"Description=lecs serve: the ECS API and monitoring of {home}",
        "",
        "[Service]",
        "Type=simple",
        f"Environment={shlex.quote('LECS_HOME=' + str(home))}",
        f"ExecStart={shlex.join(argv)}",
        "Restart=on-failure",
        "",
        "[Install]",
        "WantedBy=default.target",
    ])


def _options(args: argparse.Namespace) -> Options:
    from backend.api.run import Options

    return Options(args.host, args.port, Path(args.tls_cert) if args.tls_cert else None,
                   Path(args.tls_key) if args.tls_key else None)


async def run_serve(cloud: Cloud, args: argparse.Namespace) -> None:
    from backend.api.run import check_address, serve

    options = _options(args)
    check_address(options)
    if args.unit:
        print(unit(options, cloud.paths.home))
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    log = logging.getLogger("lecs.serve")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    # SIGTERM (systemctl stop) and SIGHUP end serve cleanly, with exit status 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    await serve(cloud, options, stop)


def register(nouns: Any) -> None:
    p = nouns.add_parser("serve", help="the ECS API and monitoring (foreground)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default"
                   " 127.0.0.1; beyond loopback needs --tls-cert and --tls-key)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--tls-cert", metavar="FILE", help="PEM certificate (serve over HTTPS)")
    p.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert")
    p.add_argument("--unit", action="store_true", help="print a systemd user unit and exit")
    p.set_defaults(handler=run_serve)
