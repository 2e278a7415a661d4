"""Bad input is refused with a clear error and writes nothing to the inventory."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend import Cloud
from backend.inventory import validate
from backend.inventory.errors import LecsError, NotFoundError, ValidationError


def _counts(cloud: Cloud) -> dict[str, int]:
    return {t: cloud.store.db[t].count for t in ("instances", "disks", "tags", "images")}


@pytest.mark.parametrize("name", ["", "a b", "../etc", "x" * 65, "-lead", "a/b", "é", ".."])
async def test_bad_instance_names_write_nothing(bare_cloud: Cloud, name: str) -> None:
    before = _counts(bare_cloud)
    with pytest.raises(ValidationError, match="invalid instance name"):
        await bare_cloud.instances.create(name, "tiny", "t1.micro")
    assert _counts(bare_cloud) == before
    assert list(bare_cloud.paths.disks.iterdir()) == []
    last = bare_cloud.audit.list(limit=1)[0]
    assert last.action == "instance.create" and last.result == "failure"


async def test_unknown_type_and_missing_image_write_nothing(bare_cloud: Cloud) -> None:
    before = _counts(bare_cloud)
    with pytest.raises(NotFoundError, match="unknown instance type 'z9.huge'"):
        await bare_cloud.instances.create("ok", "tiny", "z9.huge")
    with pytest.raises(NotFoundError, match="image 'no-such-image' not found"):
        await bare_cloud.instances.create("ok", "no-such-image", "t1.micro")
    assert _counts(bare_cloud) == before
    assert list(bare_cloud.paths.disks.iterdir()) == []


async def test_import_missing_path_is_refused(bare_cloud: Cloud, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="does not exist"):
        await bare_cloud.images.import_disk(tmp_path / "nope.qcow2", "img1")
    junk = tmp_path / "junk.txt"
    junk.write_text("not an image")
    image = await bare_cloud.images.import_disk(junk, "junkraw")  # qemu-img calls it raw
    assert image.format == "raw"
    assert bare_cloud.images.get("junkraw").checksum == image.checksum


async def test_unknown_instance_operations(bare_cloud: Cloud) -> None:
    with pytest.raises(NotFoundError, match="instance 'ghost' not found"):
        await bare_cloud.instances.stop("ghost")


@given(st.text(max_size=80))
@settings(max_examples=200, deadline=None)
def test_name_validation_accepts_only_safe_names(raw: str) -> None:
    try:
        ok = validate.name(raw)
    except LecsError:
        return
    assert ok == raw and "/" not in raw and "\x00" not in raw and 1 <= len(raw) <= 64
    assert raw not in {".", ".."}


@pytest.mark.parametrize("raw", ["novalue", "=v", "k y=v"])
def test_bad_tags(raw: str) -> None:
    with pytest.raises(ValidationError):
        validate.tag(raw)
