"""The NoCloud seed as cloud-init reads it (PyYAML, its parser): no value a user gives — a
key comment with ': ', a hostname, anything — can add a key or break the document (issue
#14 item 1); a cloud image in user mode is told which NIC is which."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pycdlib
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from backend import Cloud
from backend.network import cloudinit

NASTY = ["ssh-ed25519 AAAAC3 alice: work laptop", "ssh-ed25519 AAAAC3 a: b: c",
         'ssh-ed25519 AAAAC3 "quoted" #hash', "ssh-ed25519 AAAAC3 {x: 1}\nlocal-hostname: evil"]


@pytest.mark.parametrize("key", NASTY)
def test_meta_data_keeps_every_value_a_string(key: str) -> None:
    parsed = yaml.safe_load(cloudinit.meta_data("i-1", "web1", [key]))
    assert parsed == {"instance-id": "i-1", "local-hostname": "web1", "public-keys": [key]}


@given(st.text(max_size=80), st.text(max_size=80))
def test_meta_data_round_trips_any_text(instance_id: str, key: str) -> None:
    parsed = yaml.safe_load(cloudinit.meta_data(instance_id, "h", [key]))
    assert parsed == {"instance-id": instance_id, "local-hostname": "h", "public-keys": [key]}


def seed_files(path: Path) -> dict[str, str]:
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        found = {}
        for name in ("meta-data", "user-data", "network-config"):
            out = io.BytesIO()
            try:
                iso.get_file_from_iso_fp(out, rr_path=f"/{name}")
            except pycdlib.pycdlibexception.PyCdlibInvalidInput:
                continue
            found[name] = out.getvalue().decode()
        return found
    finally:
        iso.close()


async def test_a_cloud_image_always_gets_a_seed_with_its_nics(cloud: Cloud,
                                                               tmp_path: Path) -> None:
    import subprocess

    disk = tmp_path / "cloud.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "64M"], check=True)
    await cloud.images.import_disk(disk, "cloudy")
    inst = await cloud.instances.create("web_1", "cloudy", "t1.nano", start=False)
    files = seed_files(cloud.paths.home / "seeds" / f"{inst.id}.iso")
    meta = yaml.safe_load(files["meta-data"])
    assert meta == {"instance-id": inst.id, "local-hostname": "web-1"}  # from the name
    net = yaml.safe_load(files["network-config"])
    spec = cloud.instances.launch_spec(inst.id)
    assert net["ethernets"]["forwards"]["match"]["macaddress"] == spec.mac
    assert net["ethernets"]["egress"]["match"]["macaddress"] == spec.egress_mac
    assert net["ethernets"]["egress"]["dhcp4"] is True
    assert net["ethernets"]["forwards"]["addresses"] == ["10.0.2.15/24"]
    assert json.loads(files["network-config"]) == net

    # the tiny guest (a kernel image) needs no seed: its hostname rides on the command line
    tiny = await cloud.instances.create("db.2", "tiny", "t1.nano", start=False)
    assert not (cloud.paths.home / "seeds" / f"{tiny.id}.iso").exists()
    assert cloud.instances.launch_spec(tiny.id).cmdline.endswith(" lecs.hostname=db-2")
