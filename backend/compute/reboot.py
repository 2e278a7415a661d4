"""A clean reboot (ECS RebootInstance): the guest shuts down, QEMU resets it and lets it run.

QEMU is first told to hold on the guest's power-off (QMP `set-action shutdown=pause`): the
power-off then leaves QEMU alive, paused in runstate `shutdown` (HELD), instead of ending it.
The ACPI power button is pressed every PRESS_EVERY s (a guest still booting ignores an early
press, as for `stop`) until QEMU reports HELD; then `system_reset`, the power-off action back
to `poweroff` (a later power-off ends QEMU, as `stop` expects) and `cont`. A guest that does not
shut down within the timeout is reset anyway (what `reboot --force` does at once).

HELD is not the `io-error` pause of backend/compute/pause.py (a failed disk write, shown as
`paused`): HELD only ever comes from a reboot, and only while it runs, or after it was killed.
A killed reboot is made whole by `finish`: from the journal's recovery (`instance.settle`,
backend/compute/recovery.py, at the next open) and from every runstate look (pause.follow: the
dashboard's sampler, `instance show`), so no QEMU stays held behind a `running` row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from backend.drivers.protocol import Driver
from backend.drivers.qemu.process import Liveness
from backend.inventory import journal
from backend.inventory.errors import QemuError

HELD = "shutdown"  # QEMU's runstate: the guest powered off while QEMU holds on power-off
RESET = "prelaunch"  # after system_reset from HELD, until `cont`
PRESS_EVERY = 3.0  # seconds between ACPI power-button presses (reboot and stop)
POLL = 0.2
Progress = Callable[[float, str], None]  # (fraction done, what is happening)


async def clean(driver: Driver, instance_id: str, pid: int, timeout: float,
                serial_log: Path, progress: Progress | None = None) -> bool:
    """Reboot through the guest's own shutdown; False if it was reset after `timeout`."""
    journal.step("hold")
    await driver.hold_on_poweroff(instance_id, True)
    try:
        down = await _wait_down(driver, instance_id, pid, timeout, progress)
        journal.step("held" if down else "timeout")  # killed here: QEMU is HELD
        serial_log.write_bytes(b"")  # the next boot's readiness lines only
        await driver.reset(instance_id)
        journal.step("reset")
    finally:
        await _release(driver, instance_id)
    await run_again(driver, instance_id)
    return down


async def _wait_down(driver: Driver, instance_id: str, pid: int, timeout: float,
                     progress: Progress | None) -> bool:
    loop = asyncio.get_running_loop()
    started, presses = loop.time(), 0
    while (waited := loop.time() - started) < timeout:
        presses += 1
        if progress:
            progress(waited / timeout, f"waiting for the guest to shut down (ACPI button"
                                       f" pressed {presses}x, reset after {timeout:.0f}s)")
        journal.step("powerdown")
        try:
            await driver.powerdown(instance_id)
        except QemuError:  # not answering now: keep looking
            pass
        until = min(started + timeout, loop.time() + PRESS_EVERY)
        while loop.time() < until:
            if await _status(driver, instance_id) == HELD:
                return True
            if driver.liveness(instance_id, pid)[0] is not Liveness.ALIVE:
                raise QemuError("QEMU exited while the guest was shutting down to reboot")
            await asyncio.sleep(POLL)
    return False


async def _status(driver: Driver, instance_id: str) -> str:
    try:
        return await driver.run_status(instance_id)
    except QemuError:
        return ""


async def _release(driver: Driver, instance_id: str) -> None:
    """The power-off action back to `poweroff` (best effort: a dead QEMU has none)."""
    try:
        await driver.hold_on_poweroff(instance_id, False)
    except QemuError:
        pass


async def run_again(driver: Driver, instance_id: str, within: float = 10.0) -> None:
    """`cont` until QEMU runs: a reset is carried out by QEMU's main loop, so a `cont` sent
    at once may still find the guest HELD and be refused."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (status := await driver.run_status(instance_id)) != "running":
        if loop.time() > deadline:
            raise QemuError(f"QEMU is {status}, not running, after the reboot's reset")
        try:
            await driver.resume(instance_id)
        except QemuError:
            pass
        await asyncio.sleep(0.05)


async def finish(driver: Driver, instance_id: str, status: str | None = None) -> bool:
    """A killed reboot's QEMU runs again: HELD is reset, a reset one let run, the power-off
    action put back. True if the guest was held or stopped (it runs now)."""
    status = status if status is not None else await driver.run_status(instance_id)
    if status == HELD:
        await driver.reset(instance_id)
    await _release(driver, instance_id)
    if status in (HELD, RESET):
        await run_again(driver, instance_id)
        return True
    return False
