"""What a new user hit in the CLI (issue #13, item 10), each as they would type it: the
defaults the dashboard has, alarm and event listings that match the dashboard's, filters,
an export, and refusals that are in the audit trail too."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.test_cli import assert_one_line_error, lecs


def test_create_defaults_the_type_and_list_filters(home: Path, tiny_guest: Path) -> None:
    made = json.loads(lecs(home, "instance", "create", "web1", "--image", "tiny", "--no-start",
                           "--tag", "env=prod", "--tag", "team=a", "--json").stdout)
    assert made["type"] == "t1.nano"  # what the dashboard's create form selects first
    lecs(home, "instance", "create", "web2", "--image", "tiny", "--no-start", "--tag", "env=dev")

    def names(*filters: str) -> list[str]:
        out = lecs(home, "instance", "list", "--json", *filters).stdout
        return [i["name"] for i in json.loads(out)]

    assert names("--tag", "env=prod") == ["web1"]
    assert names("--tag", "env=prod", "--tag", "team=b") == []
    assert names("--state", "stopped") == ["web1", "web2"]
    assert names("--state", "running") == []
    assert_one_line_error(lecs(home, "instance", "list", "--state", "asleep", check=False),
                          "invalid --state 'asleep'")


def test_alarm_list_like_the_dashboard_and_readme_example(home: Path, tiny_guest: Path) -> None:
    lecs(home, "instance", "create", "web1", "--image", "tiny", "--no-start")
    # README's example, as written: no name (it defaults to RESOURCE-METRIC)
    lecs(home, "alarm", "create", "--resource", "web1", "--metric", "cpu_util", "--comparison",
         ">", "--threshold", "80", "--period", "60", "--periods", "3")
    again = lecs(home, "alarm", "create", "--resource", "web1", "--metric", "cpu_util",
                 "--comparison", ">", "--threshold", "90", "--json")
    assert json.loads(again.stdout)["name"] == "web1-cpu_util-2"
    table = lecs(home, "alarm", "list").stdout.splitlines()
    assert table[0].split()[:4] == ["NAME", "RESOURCE", "RULE", "STATE"]
    first = table[1].split()
    assert first[:2] == ["web1-cpu_util", "web1"] and "INSUFFICIENT_DATA" in first
    assert "al-" not in table[1]


def test_events_by_any_name_with_time_bounds_and_export(home: Path, tiny_guest: Path) -> None:
    lecs(home, "instance", "create", "vm1", "--image", "tiny", "--no-start")
    lecs(home, "disk", "create", "data1", "--size", "1")
    lecs(home, "disk", "attach", "data1", "vm1")
    lecs(home, "sg", "create", "web")

    def events(*args: str) -> list[dict[str, object]]:
        return list(json.loads(lecs(home, "event", "list", "--json", *args).stdout))

    by_disk = {e["action"] for e in events("--resource", "data1")}
    assert by_disk == {"disk.create", "disk.attach"}
    assert {e["action"] for e in events("--resource", "web")} == {"sg.create"}
    # an instance's events include its disks' attach and detach
    assert {"instance.create", "disk.attach"} <= {e["action"] for e in events("--resource",
                                                                              "vm1")}
    assert events("--until", "2020-01-01") == []
    assert len(events("--since", "1h")) == len(events("--limit", "500"))
    assert_one_line_error(lecs(home, "event", "list", "--since", "yesterday", check=False),
                          "invalid --since 'yesterday'")

    lines = lecs(home, "event", "export", "--format", "jsonl").stdout.splitlines()
    exported = [json.loads(line) for line in lines]
    assert [e["id"] for e in exported] == sorted(e["id"] for e in exported)  # oldest first
    assert {e["action"] for e in exported} >= {"image.import", "disk.attach", "sg.create"}
    rows = list(csv.DictReader(io.StringIO(lecs(home, "event", "export", "--format", "csv",
                                                "--resource", "data1").stdout)))
    assert [r["action"] for r in rows] == ["disk.create", "disk.attach"]
    assert json.loads(rows[1]["parameters"])["instance"] == "vm1"


def test_every_refused_mutating_verb_is_audited(home: Path, tiny_guest: Path) -> None:
    lecs(home, "instance", "create", "vm1", "--image", "tiny", "--no-start")
    refusals = [
        (("instance", "tag", "vm1", "--tag", "bad key=1"), "instance.tag", "vm1"),
        (("disk", "create", "big", "--size", "0"), "disk.create", "big"),
        (("instance", "start", "nosuch"), "instance.start", "nosuch"),
        (("image", "delete", "tiny", "--yes"), "image.delete", None),
    ]
    for argv, action, resource in refusals:
        assert lecs(home, *argv, check=False).returncode != 0
        newest = json.loads(lecs(home, "event", "list", "--json", "--limit", "1").stdout)[0]
        assert newest["action"] == action and newest["result"] == "failure", (argv, newest)
        assert newest["error"]
        if resource is not None:
            assert newest["resource"] == resource
    # reading is not audited
    before = len(json.loads(lecs(home, "event", "list", "--json", "--limit", "500").stdout))
    lecs(home, "instance", "show", "nosuch", check=False)
    lecs(home, "disk", "list")
    after = len(json.loads(lecs(home, "event", "list", "--json", "--limit", "500").stdout))
    assert after == before


def test_system_disk_is_as_large_as_the_inventory_says(home: Path, tmp_path: Path) -> None:
    """#13 item 13: a 64 MiB image gives a system disk of the 1 GiB the inventory states."""
    import subprocess

    small = tmp_path / "small.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(small), "64M"], check=True)
    lecs(home, "image", "import", str(small), "--name", "small")
    for name, extra, gib in (("s1", (), 1), ("s2", ("--disk", "3"), 3)):
        lecs(home, "instance", "create", name, "--image", "small", "--no-start", *extra)
        disk = json.loads(lecs(home, "disk", "show", f"{name}-system", "--json").stdout)
        assert disk["size_gib"] == gib
        meta = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json",
                                          disk["path"]], capture_output=True, text=True,
                                         check=True).stdout)
        assert meta["virtual-size"] == gib << 30


def test_a_guest_port_keeps_its_host_port(home: Path, tiny_guest: Path) -> None:
    """#13 item 8: deleting and re-adding a rule gives the forward its old host port back."""
    made = json.loads(lecs(home, "instance", "create", "pt", "--image", "tiny", "--no-start",
                           "--json").stdout)
    port80 = next(f["host_port"] for f in made["forwards"] if f["guest_port"] == 80)
    group = json.loads(lecs(home, "sg", "show", "default", "--json").stdout)
    http = next(r for r in group["rules"] if r["port_min"] == 80)
    lecs(home, "sg", "rule-delete", "default", http["id"], "--yes")
    shown = json.loads(lecs(home, "instance", "show", "pt", "--json").stdout)
    assert [f["guest_port"] for f in shown["forwards"]] == [22]
    lecs(home, "sg", "rule-add", "default", "--protocol", "tcp", "--port", "80",
         "--cidr", "127.0.0.1/32")
    again = json.loads(lecs(home, "instance", "show", "pt", "--json").stdout)
    assert next(f["host_port"] for f in again["forwards"] if f["guest_port"] == 80) == port80


def test_a_port_in_time_wait_is_free_for_qemu() -> None:
    """#14 item 6: a readiness probe's closed connection must not move the ssh port."""
    import socket

    from backend.network.usermode import port_is_free

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = server.accept()
    conn.close()  # the server side closes first: its port goes to TIME-WAIT
    client.close()
    server.close()
    assert port_is_free("tcp", "127.0.0.1", port)
