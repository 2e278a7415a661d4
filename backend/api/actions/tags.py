"""TagResources, UntagResources, ListTagResources. lecs tags instances (ResourceType
`instance`); other resource types are refused, never ignored."""

from __future__ import annotations

from typing import Any

from backend.api import shapes
from backend.api.actions.instances import find as find_instance
from backend.api.actions.launch import check_tags
from backend.api.errors import invalid_parameter, missing_parameter
from backend.api.params import Params
from backend.api.registry import Call, action
from backend.api.translate import engine


def _resources(p: Params, required: bool = True) -> list[str]:
    p.region()
    p.choice("ResourceType", ("instance",), "instance")
    ids = p.repeat("ResourceId", limit=50)
    if required and not ids:
        raise missing_parameter("ResourceId.1")
    return ids


@action("TagResources", params=("RegionId", "ResourceType", "ResourceId.*", "Tag.*.Key",
                                "Tag.*.Value"))
async def tag_resources(call: Call) -> dict[str, Any]:
    p = Params(call)
    ids = _resources(p)
    tags = check_tags(p.tags())
    if not tags:
        raise missing_parameter("Tag.1.Key")
    insts = [find_instance(call.cloud, ref, reconcile=False) for ref in ids]
    p.done()
    with engine("instance"):
        for inst in insts:
            call.cloud.instances.tag(inst.id, tags)
    return {}


@action("UntagResources", params=("RegionId", "ResourceType", "ResourceId.*", "TagKey.*",
                                  "All"))
async def untag_resources(call: Call) -> dict[str, Any]:
    p = Params(call)
    ids = _resources(p)
    keys = p.repeat("TagKey", limit=20)
    every = p.flag("All")
    if not keys and not every:
        raise invalid_parameter("TagKey.1", "or All=true is needed")
    insts = [find_instance(call.cloud, ref, reconcile=False) for ref in ids]
    p.done()
    with engine("instance"):
        for inst in insts:
            doomed = list(inst.tags) if every else [k for k in keys if k in inst.tags]
            if doomed:
                call.cloud.instances.tag(inst.id, {}, doomed)
    return {}


@action("ListTagResources", params=("RegionId", "ResourceType", "ResourceId.*", "Tag.*.Key",
                                    "Tag.*.Value", "NextToken"))
async def list_tag_resources(call: Call) -> dict[str, Any]:
    p = Params(call)
    ids = set(_resources(p, required=False))
    wanted = p.tag_filter()
    if not ids and not wanted:
        raise invalid_parameter("ResourceId.1", "or Tag.1.Key is needed")
    token = p.text("NextToken") or "0"
    if not token.isdigit():
        raise invalid_parameter("NextToken", "is not a token this listing gave")
    p.done()
    found = []
    for inst in sorted(call.cloud.instances.list(reconcile=False), key=lambda i: i.id):
        if (ids and inst.id not in ids) or not shapes.tagged(inst.tags, wanted):
            continue
        found += [{"ResourceType": "instance", "ResourceId": inst.id, "TagKey": k,
                   "TagValue": v} for k, v in sorted(inst.tags.items())
                  if not k.startswith(shapes.FORWARD_TAG)]
    start = int(token)
    page = found[start:start + 50]
    more = str(start + 50) if start + 50 < len(found) else ""
    return {"NextToken": more, "TagResources": {"TagResource": page}}
