"""The instance operations of issue #15 as ECS actions: ModifyInstanceSpec (a Stopped
instance's type), ReplaceSystemDisk (a fresh system disk from an image) and
GetInstanceConsoleOutput (the serial console's output, base64 as ECS answers)."""

from __future__ import annotations

import base64
import time
from typing import Any

from backend.api.actions.instances import find
from backend.api.errors import invalid_parameter
from backend.api.params import Params
from backend.api.registry import Call, action
from backend.api.translate import engine

CONSOLE_BYTES = 64 * 1024  # ECS answers the last 64 KiB of the console


@action("ModifyInstanceSpec", params=("RegionId", "InstanceId", "InstanceType",
                                      "AllowMigrateAcrossZone", "Async", "ClientToken",
                                      "DryRun"))
async def modify_instance_spec(call: Call) -> dict[str, Any]:
    """A Stopped instance's type (lecs changes the vCPUs and memory of a running one only
    by a stop and start: refused while it runs, as IncorrectInstanceStatus)."""
    p = Params(call)
    inst = find(call.cloud, p.need("InstanceId"))
    itype = p.need("InstanceType")
    p.only("AllowMigrateAcrossZone", "false")
    p.only("Async", "false")
    with engine("instance type"):
        call.cloud.types.get(itype)
    p.done(dry_run=True)
    with engine("instance"):
        await call.cloud.instance_ops.resize(inst.id, itype)
    return {}


@action("ReplaceSystemDisk", params=("RegionId", "InstanceId", "ImageId", "ClientToken",
                                     "SystemDisk.Size", "Password", "KeyPairName",
                                     "SecurityEnhancementStrategy", "Architecture",
                                     "Platform", "DiskId", "UseAdditionalService"))
async def replace_system_disk(call: Call) -> dict[str, Any]:
    """A Stopped instance gets a fresh system disk made from ImageId; its id, data disks,
    groups, key pair and tags stay; the old system disk is deleted."""
    p = Params(call)
    inst = find(call.cloud, p.need("InstanceId"))
    image = p.need("ImageId")
    for name in ("SystemDisk.Size", "Password", "DiskId"):
        if p.text(name) is not None:
            raise invalid_parameter(name, "cannot be honoured: lecs rebuilds from ImageId"
                                    " with the image's size, keeping the key pair")
    if (pair := p.text("KeyPairName")) is not None and pair != inst.key_pair:
        raise invalid_parameter("KeyPairName", "cannot be changed by a ReplaceSystemDisk in"
                                " lecs (the instance keeps its key pair)")
    p.choice("SecurityEnhancementStrategy", ("Deactive",))
    p.choice("Architecture", ("x86_64",))
    p.choice("Platform", ("linux",), fold=True)
    p.flag("UseAdditionalService")
    with engine("image"):
        found = call.cloud.images.get(image)
    if found.id != image:
        raise invalid_parameter("ImageId", "names no image (give an img- id)")
    p.done()
    with engine("instance"):
        rebuilt = await call.cloud.instance_ops.rebuild(inst.id, image)
    system = [d.id for d in rebuilt.disks if d.role == "system"]
    return {"DiskId": system[0] if system else ""}


@action("GetInstanceConsoleOutput", params=("RegionId", "InstanceId", "RemoveSymbols"))
async def get_instance_console_output(call: Call) -> dict[str, Any]:
    p = Params(call)
    inst = find(call.cloud, p.need("InstanceId"), reconcile=False)
    if p.has("RemoveSymbols") and not p.flag("RemoveSymbols"):
        raise invalid_parameter("RemoveSymbols", "can only be true: lecs always removes the"
                                " guest's control sequences")
    p.done()
    with engine("instance"):
        log = call.cloud.instance_ops.console_log(inst.id)
    data = log.text.encode()[-CONSOLE_BYTES:]
    return {"InstanceId": inst.id, "ConsoleOutput": base64.b64encode(data).decode(),
            "LastUpdateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
