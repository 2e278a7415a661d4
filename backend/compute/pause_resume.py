"""`lecs instance pause|resume`: QMP `stop` and `cont` on a running guest (ECS has no pause;
this is the hypervisor's own, kept as a state of its own).

A user's pause is QEMU runstate `paused` and a row `paused` with no `last_error`; a guest
QEMU stopped on a failed disk write (backend/compute/pause.py) is runstate `io-error` with the
cause in `last_error`. pause.py resumes only `io-error` guests, so a user's pause stays until
`resume`.

Journal: effect `instance.runstate` before the QMP command; recovery (`follow_runstate`)
makes the row follow what QEMU reports: `paused`, `running`, or — no QEMU — `stopped`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backend.compute.guard import guarded
from backend.compute.records import Instance
from backend.drivers.qemu.process import Liveness
from backend.inventory import journal
from backend.inventory.errors import LecsError
from backend.inventory.records import InstanceState as S

if TYPE_CHECKING:
    from backend.compute.instances import Instances

EFFECT = "instance.runstate"


async def pause(inst: Instances, ref: str) -> Instance:
    async with guarded(inst, "pause", ref, effect=EFFECT) as g:
        journal.step("stop")
        await inst.driver.pause(g.row["id"])
        inst._set(g.row["id"], state=S.PAUSED.value, last_error="")
    return inst.get(g.row["id"], reconcile=False)


async def resume(inst: Instances, ref: str) -> Instance:
    async with guarded(inst, "resume", ref, effect=EFFECT) as g:
        journal.step("cont")
        await inst.driver.resume(g.row["id"])
        inst._set(g.row["id"], state=S.RUNNING.value, last_error="")
    return inst.get(g.row["id"], reconcile=False)


async def follow_runstate(inst: Instances, action: str, data: dict[str, Any]) -> None:
    """Recovery of a killed pause or resume: the row says what QEMU's runstate is."""
    from backend.compute import recovery

    instance_id = str(data["instance"])
    row = inst.store.row("SELECT * FROM instances WHERE id = ?", [instance_id])
    if row is None:
        return
    live, _pid = inst.driver.liveness(instance_id, row["pid"])
    if live is not Liveness.ALIVE:
        await recovery.settle(inst, action, data)
        return
    try:
        status = await inst.driver.run_status(instance_id)
    except LecsError:  # alive but not answering: the row keeps what it says
        return
    new = {"paused": S.PAUSED, "running": S.RUNNING}.get(status)
    async with inst.locks.hold(instance_id):
        if new is not None and row["state"] != new.value:
            inst._set(instance_id, state=new.value, last_error="")
    if status == "io-error":  # a disk write failed meanwhile: pause.py's own look
        await inst.follow_status(instance_id, status)
    inst.audit.record("instance.recover", instance_id,
                      {"interrupted": action, "outcome": status}, "success", "")
