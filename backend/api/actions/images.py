"""Instance types and images: DescribeInstanceTypes, DescribeImages, CreateImage, DeleteImage."""

from __future__ import annotations

import secrets
from typing import Any

from backend.api import shapes
from backend.api.actions.instances import find as find_instance
from backend.api.errors import ApiError, invalid_parameter
from backend.api.params import Params
from backend.api.registry import Call, action
from backend.api.translate import engine, settle


@action("DescribeInstanceTypes", params=("RegionId", "InstanceTypes.*", "InstanceTypeFamily",
                                         "NextToken", "MaxResults"))
async def describe_instance_types(call: Call) -> dict[str, Any]:
    p = Params(call)
    wanted = set(p.repeat("InstanceTypes", limit=10))
    family = p.text("InstanceTypeFamily")
    types = [t for t in call.cloud.types.list()
             if (not wanted or t.name in wanted)
             and (not family or family == f"ecs.{t.name.split('.')[0]}")]
    items, paging = shapes.page(p, types, size=1600, most=1600)
    p.done()
    paging.pop("TotalCount", None)
    paging.pop("MaxResults", None)
    return {"NextToken": paging.get("NextToken", ""),
            "InstanceTypes": {"InstanceType": [shapes.instance_type(t) for t in items]}}


@action("DescribeImages", params=("RegionId", "ImageId", "ImageName", "Status",
                                  "ImageOwnerAlias", "OSType", "Architecture", "Usage",
                                  "DryRun", "PageNumber", "PageSize"))
async def describe_images(call: Call) -> dict[str, Any]:
    p = Params(call)
    p.region()
    ids = {i for i in (p.text("ImageId") or "").split(",") if i}
    name = p.text("ImageName")
    statuses = {s for s in (p.text("Status") or "Available").split(",") if s}
    owner = p.choice("ImageOwnerAlias", ("self", "system", "others", "marketplace"))
    p.choice("OSType", ("linux",), fold=True)
    p.choice("Architecture", ("x86_64",))
    usage = p.choice("Usage", ("instance", "none"))
    chosen = [shapes.image(i) for i in call.cloud.images.list()]
    chosen = [i for i in chosen
              if (not ids or i["ImageId"] in ids) and (not name or i["ImageName"] == name)
              and i["Status"] in statuses and owner in (None, "self") and usage != "none"]
    number = p.integer("PageNumber", 1, low=1) or 1
    size = p.integer("PageSize", 10, low=1, high=100) or 10
    p.done(dry_run=True)
    return {"RegionId": "local", "TotalCount": len(chosen), "PageNumber": number,
            "PageSize": size, "Images": {"Image": chosen[(number - 1) * size:number * size]}}


@action("CreateImage", params=("RegionId", "InstanceId", "ImageName", "Description",
                               "ClientToken", "SnapshotId"))
async def create_image(call: Call) -> dict[str, Any]:
    """An image of a Stopped instance's disks (its system disk and its data disks)."""
    p = Params(call)
    p.region()
    if p.has("SnapshotId"):
        raise invalid_parameter("SnapshotId", "cannot be honoured: lecs makes images of"
                                " instances (give InstanceId)")
    inst = find_instance(call.cloud, p.need("InstanceId"))
    name = p.text("ImageName", max_len=128) or f"image-{secrets.token_hex(4)}"
    p.only("Description", "")
    p.done()
    if inst.state.value != "stopped":
        raise ApiError("IncorrectInstanceStatus", f"instance {inst.name!r} is"
                       f" {shapes.INSTANCE_STATUS[inst.state.value]}: lecs images a Stopped"
                       " instance.", 403)
    with engine("image"):
        if any(i.name == name for i in call.cloud.images.list()):
            raise ApiError("InvalidImageName.Duplicated",
                           f"An image named {name!r} exists already.", 400)
    work = call.cloud.images.create_from_instance(inst.id, name, full=True)
    image = await settle(work, kind="image", within=8.0)
    if image is None:  # still copying: its id is the row the copy made
        found = [i for i in call.cloud.images.list() if i.name == name]
        if not found:
            raise ApiError("OperationFailed", f"image {name!r} was not started", 500)
        return {"ImageId": found[0].id}
    return {"ImageId": image.id}


@action("DeleteImage", params=("RegionId", "ImageId", "Force"))
async def delete_image(call: Call) -> dict[str, Any]:
    p = Params(call)
    p.region()
    ref = p.need("ImageId")
    p.only("Force", "false")
    p.done()
    with engine("image"):
        image = call.cloud.images.get(ref)
        if image.id != ref:
            raise ApiError("InvalidImageId.NotFound",
                           f"The specified ImageId {ref!r} does not exist.", 404)
        call.cloud.images.delete(image.id)
    return {}
