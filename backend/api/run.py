"""`lecs serve`'s process: one Cloud, the API on one address, monitoring always on.

`check_address` refuses listening beyond loopback without TLS. `serve` claims the inventory
(`presence`), listens, publishes its address, runs the metrics sampler and alarm evaluation
(backend/monitoring; it leads whenever no other process does), and runs until cancelled.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from backend.api import actions
from backend.api.presence import DEFAULT_PORT, Presence
from backend.api.server import Api
from backend.inventory.errors import LecsError, ValidationError

if TYPE_CHECKING:
    from backend.cloud import Cloud

SAMPLE_INTERVAL = 5.0  # seconds between serve's metric samples (alarms are judged each tick)
log = logging.getLogger("lecs.serve")


@dataclass(slots=True, frozen=True)
class Options:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def address(self) -> str:
        scheme = "https" if self.tls_cert else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_address(options: Options) -> None:
    if not 0 <= options.port <= 65535:
        raise ValidationError(f"port {options.port} is not a TCP port (0-65535)")
    if bool(options.tls_cert) != bool(options.tls_key):
        raise ValidationError("--tls-cert and --tls-key go together")
    if not is_loopback(options.host) and not options.tls_cert:
        raise ValidationError(f"refusing to listen on {options.host} without TLS: beyond"
                              " loopback, give --tls-cert and --tls-key")


def tls_context(options: Options) -> ssl.SSLContext | None:
    if not options.tls_cert or not options.tls_key:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(options.tls_cert, options.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ValidationError(f"cannot use the TLS certificate {options.tls_cert} and key"
                              f" {options.tls_key}: {exc}") from None
    return ctx


async def serve(cloud: Cloud, options: Options, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set or the task is cancelled; the inventory is free afterwards."""
    check_address(options)
    ctx = tls_context(options)
    presence = Presence(cloud.paths)
    presence.claim()
    log.info("lecs serve: pid %d", os.getpid())
    try:
        actions.load()
        runner = web.AppRunner(Api(cloud).app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, options.host, options.port, ssl_context=ctx,
                               reuse_address=True)
            try:
                await site.start()
            except OSError as exc:
                raise LecsError(f"cannot listen on {options.host}:{options.port}:"
                                f" {exc.strerror or exc}") from None
            port = runner.addresses[0][1] if runner.addresses else options.port
            bound = Options(options.host, port, options.tls_cert, options.tls_key)
            presence.publish(bound.address)
            cloud.metrics.start(SAMPLE_INTERVAL)
            log.info("lecs serve: the ECS API (2014-05-26) on %s for %s", bound.address,
                     cloud.paths.home)
            log.info("monitoring: sampling every %.0f s, alarms judged each tick",
                     SAMPLE_INTERVAL)
            await (stop or asyncio.Event()).wait()
            log.info("lecs serve: stopping")
        finally:
            await cloud.metrics.stop()
            await runner.cleanup()
    finally:
        presence.release()
        log.info("lecs serve: stopped")
