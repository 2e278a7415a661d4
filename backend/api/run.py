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

from backend.api import actions, translate
from backend.api.presence import DEFAULT_PORT, Presence
from backend.api.server import Api
from backend.inventory.errors import LecsError, ValidationError

if TYPE_CHECKING:
    from backend.cloud import Cloud

SAMPLE_INTERVAL = 5.0  # seconds between serve's metric samples (alarms are judged each tick)
RECOVER_EVERY = 5.0  # seconds between looks at the journal for what a killed process left
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


async def recover_forever(cloud: Cloud) -> None:
    """Crash-only while serve runs for days: a CLI or dashboard killed mid-operation is
    recovered within RECOVER_EVERY seconds, not at the next start of some process."""
    while True:
        await asyncio.sleep(RECOVER_EVERY)
        try:
            done = await cloud.journal.recover()
        except LecsError as exc:  # a busy inventory: next time
            log.warning("recovery: %s", exc)
            continue
        if done:
            log.info("recovered what a killed process left: %s", ", ".join(done))
        for failure in cloud.journal.failures:
            log.warning("recovery failed (retried): %s", failure)
        cloud.journal.failures.clear()


async def serve(cloud: Cloud, options: Options, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set or the task is cancelled; the inventory is free afterwards."""
    check_address(options)
    if cloud.store.read_only:
        raise LecsError(f"the inventory {cloud.paths.db} is read-only here: serve writes to it"
                        " (nonces, tokens, audit events, operations)")
    ctx = tls_context(options)
    presence = Presence(cloud.paths)
    presence.claim()
    address = ""
    try:
        actions.load()
        runner = web.AppRunner(Api(cloud).app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            address = await _listen(runner, options, ctx)
            presence.publish(address)
            log.info("lecs serve (pid %d): the ECS API (2014-05-26) on %s for %s",
                     os.getpid(), address, cloud.paths.home)
            await _run_until(cloud, stop or asyncio.Event())
        finally:
            await runner.cleanup()
    finally:
        presence.release()
        if address:  # a serve that never listened says only why (one line, the CLI's)
            log.info("lecs serve: stopped")


async def _listen(runner: web.AppRunner, options: Options, ctx: ssl.SSLContext | None) -> str:
    site = web.TCPSite(runner, options.host, options.port, ssl_context=ctx, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise LecsError(f"cannot listen on {options.host}:{options.port}: {why}") from None
    port = runner.addresses[0][1] if runner.addresses else options.port
    return Options(options.host, port, options.tls_cert, options.tls_key).address


async def _run_until(cloud: Cloud, stop: asyncio.Event) -> None:
    """Monitoring and recovery alongside the API, until `stop`."""
    cloud.metrics.start(SAMPLE_INTERVAL)
    recovering = asyncio.get_running_loop().create_task(recover_forever(cloud))
    log.info("monitoring: sampling every %.0f s, alarms judged each tick", SAMPLE_INTERVAL)
    try:
        await stop.wait()
        log.info("lecs serve: stopping")
    finally:
        recovering.cancel()
        left = await translate.drain()  # operations answered early (StopInstance, …) end
        if left:
            log.warning("lecs serve: stopped with %d operation(s) still running", len(left))
        await cloud.metrics.stop()
