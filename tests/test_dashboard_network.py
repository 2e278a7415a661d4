"""Pilot tests of the dashboard's network side over the real backend: security groups, rules
(applied live to a running tiny guest), key pairs, the create dialog's network fields, `s`."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Label, Select, Static

from app.tui.app import LecsApp, keys_markdown
from app.tui.commands.palette import LecsCommands
from app.tui.panes.security_groups import SecurityGroupsPane
from app.tui.screens.confirm import ConfirmScreen
from app.tui.screens.create_instance import CreateInstanceScreen
from app.tui.screens.keypair_import import ImportKeyScreen
from app.tui.screens.keypair_list import KeyPairsScreen
from app.tui.screens.rule_add import AddRuleScreen
from app.tui.screens.sg_create import CreateGroupScreen
from app.tui.screens.sg_pick import PickScreen
from backend import Cloud
from backend.inventory.errors import ValidationError
from backend.inventory.records import InstanceState
from backend.network import rules
from tests.qemu_probe import http_get
from tests.test_dashboard import demo_app, plain, wait_for

needs_keygen = pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="no ssh-keygen")


def sg_pane(app: LecsApp) -> SecurityGroupsPane:
    pane = app.current_pane
    assert isinstance(pane, SecurityGroupsPane)
    return pane


def error_text(app: LecsApp, widget_id: str) -> str:
    label = app.screen.query_one(f"#{widget_id}", Label)
    return str(label.render()) if label.display else ""


async def fill(pilot: Pilot[None], selector: str, text: str) -> None:
    """Put `text` in an input as a paste would (typing 80 characters costs 8 s of Pilot)."""
    widget = pilot.app.screen.query_one(selector, Input)
    assert widget.has_focus
    widget.value = text
    await pilot.pause()


def keygen(path: Path, comment: str = "me@lab") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f",
                    str(path)], check=True, stdin=subprocess.DEVNULL)
    return Path(f"{path}.pub")


def _refused(port: int) -> bool:
    try:
        http_get(port, timeout=3)
    except (urllib.error.URLError, ConnectionError, OSError):
        return True
    return False


# ---- the demo inventory, no QEMU -------------------------------------------------------
async def test_pane_shows_groups_rules_and_open_ports(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("4")
        pane = sg_pane(app)
        assert [r.cells[0] for r in pane.groups_table.view] == [
            "db-lan", "default", "lockdown", "web-public"]
        assert app.focused is pane.groups_table
        rules_of_db = [r.cells for r in pane.rules_table.view]
        assert rules_of_db[0][:6] == ("ingress", "tcp", "5432", "group:web-public", "allow",
                                      "10")
        await pilot.press("G")  # web-public: the deny on 8080-8089 comes first (priority 5)
        assert "Rules of web-public" in plain(pane.query_one("#sg-rules-title", Static))
        assert pane.rules_table.view[0].cells[:6] == ("ingress", "tcp", "8080-8089",
                                                      "0.0.0.0/0", "deny", "5")
        sandbox = [r.cells for r in pane.ports_table.view if r.cells[0] == "lab-sandbox"]
        assert sandbox[0][1:] == ("stopped", "default,lockdown", "tcp",
                                  "127.0.0.1:40622 (closed)", "→ 22 (ssh)", "-")
        # a stopped instance opens nothing: its ports are reserved, shown closed, no egress
        stopped = {i.name for i in demo_cloud.instances.list(reconcile=False)
                   if i.state is InstanceState.STOPPED}
        rows = [r.cells for r in pane.ports_table.view if r.cells[0] in stopped]
        assert rows and all(c[6] == "-" for c in rows)
        assert all(c[4].endswith("(closed)") for c in rows if c[3] != "-")
        assert not pane.query_one("#sg-isolation", Static).display  # demo facts: none known
        await pilot.press("tab", "tab", "slash", *"web-1", "enter")  # the filter: open ports
        assert {r.cells[0] for r in pane.ports_table.view} == {"web-1"}
        assert len(pane.groups_table.view) == 4


async def test_pane_says_what_each_mode_seals(demo_cloud: Cloud) -> None:
    """#12: the Security groups pane says what isolation each networking mode gives here."""
    facts = demo_cloud.host_facts()
    assert any(line.startswith("user mode: ") for line in facts.isolation)
    app = LecsApp(demo_cloud, facts=facts, reconcile=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        line = sg_pane(app).query_one("#sg-isolation", Static)
        assert line.display
        text = plain(line)
        assert "Isolation" in text and "user mode: " in text and "bridge mode: " in text


async def test_help_keys_doc_and_palette_list_the_network_actions(demo_cloud: Cloud) -> None:
    text = keys_markdown()
    for binding in [*SecurityGroupsPane.BINDINGS, *KeyPairsScreen.BINDINGS]:
        assert binding.tooltip in text  # type: ignore[union-attr]
    app = demo_app(demo_cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        provider = LecsCommands(app.screen)
        await provider.startup()
        hits = [hit.text async for hit in provider.search("rule web-public")]
        assert "Add rule to web-public" in hits
        keys = [hit.text async for hit in provider.search("key pairs")]
        assert "Key pairs" in keys
        command = next(c for t, _, c in provider._all() if t == "Add rule to web-public")
        command()
        await wait_for(pilot, lambda: isinstance(app.screen, AddRuleScreen))
        assert isinstance(app.screen, AddRuleScreen) and app.screen.group.name == "web-public"
        await pilot.press("escape", "tab")  # the rules table: yet the command names the group
        assert sg_pane(app).rules_table.has_focus
        command = next(c for t, _, c in provider._all() if t == "Delete security group db-lan")
        command()
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Delete security group db-lan and its 4 rules?" in plain(
            app.screen.query_one("#confirm-question", Label))
        await pilot.press("n")
        assert "db-lan" in [g.name for g in demo_cloud.sgs.list()]


async def test_ssh_key_uses_the_instances_key_pair(
    demo_cloud: Cloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`s` runs ssh with `-i` and the key pair's private key, as `lecs instance ssh` does
    (a stand-in ssh on PATH records its argv; a headless run cannot suspend, so it doesn't)."""
    fake = tmp_path / "bin"
    fake.mkdir()
    out = tmp_path / "argv"
    (fake / "ssh").write_text(f"#!{sys.executable}\nimport sys\n"
                              f"open({str(out)!r}, 'w').write(' '.join(sys.argv[1:]))\n")
    (fake / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{Path(sys.executable).parent}")
    key = tmp_path / "id_ed25519"  # the demo's key pair names a key file: make it exist
    key.write_text("not a real key\n")
    key.chmod(0o600)
    pair = demo_cloud.instances.get("web-1", reconcile=False).key_pair
    with demo_cloud.store.transaction() as db:
        db.execute("UPDATE keypairs SET private_key_path = ? WHERE name = ?", [str(key), pair])
    app = demo_app(demo_cloud)
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash", *"web-1", "enter", "s")
        await wait_for(pilot, out.exists)
    argv = out.read_text().split()
    assert argv[argv.index("-p") + 1] == "40122"
    assert argv[argv.index("-i") + 1] == str(key)
    assert argv[-1] == "root@127.0.0.1"


# ---- a real inventory, no guest running ------------------------------------------------
async def test_bad_rule_shows_the_backends_error_inline_and_stores_nothing(
    bare_cloud: Cloud,
) -> None:
    before = {g.name: len(g.rules) for g in bare_cloud.sgs.list()}
    events = len(bare_cloud.audit.list(limit=1000))
    app = LecsApp(bare_cloud)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("4", "a")
        assert isinstance(app.screen, AddRuleScreen) and app.screen.group.name == "default"
        await pilot.press(*"70000", "tab", "tab", "ctrl+u", *"10.0.0.0/33")
        with pytest.raises(ValidationError) as port_error:
            rules.parse_ports("70000", rules.Protocol.TCP)
        with pytest.raises(ValidationError) as cidr_error:
            rules.parse_cidr("10.0.0.0/33")
        assert error_text(app, "ports-error") == str(port_error.value)
        assert error_text(app, "cidr-error") == str(cidr_error.value)
        await pilot.press("ctrl+s")  # refused: the dialog stays, the cursor on the first error
        assert isinstance(app.screen, AddRuleScreen)
        assert app.focused is app.screen.query_one("#ports")
        await pilot.press("tab", "tab", "tab", "ctrl+u", *"101")  # action, CIDR, priority
        assert "must be 1-100" in error_text(app, "priority-error")
        await pilot.press("escape")
        assert not isinstance(app.screen, AddRuleScreen)
    assert {g.name: len(g.rules) for g in bare_cloud.sgs.list()} == before
    assert len(bare_cloud.audit.list(limit=1000)) == events


@needs_keygen
async def test_key_pairs_import_and_delete(bare_cloud: Cloud, tmp_path: Path) -> None:
    pub = keygen(tmp_path / "id_lab")
    app = LecsApp(bare_cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4", "p")
        assert isinstance(app.screen, KeyPairsScreen)
        await pilot.press("i", *"laptop", "tab")
        await fill(pilot, "#public", str(tmp_path / "nope.pub"))  # long paths: set, not typed
        assert "does not exist" in error_text(app, "public-error")
        await fill(pilot, "#public", str(pub))
        assert error_text(app, "public-error") == ""
        await pilot.press("tab")
        await fill(pilot, "#private", str(tmp_path / "id_lab"))
        await pilot.press("enter")
        assert not isinstance(app.screen, ImportKeyScreen)
        await wait_for(pilot, lambda: [k.name for k in bare_cloud.keypairs.list()] == ["laptop"])
        screen = app.screen
        assert isinstance(screen, KeyPairsScreen)
        await wait_for(pilot, lambda: len(screen.table.rows) == 1)
        fingerprint = bare_cloud.keypairs.get("laptop").fingerprint
        assert screen.table.rows[0].cells[:3] == ("laptop", "ssh-ed25519", fingerprint)
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: bare_cloud.keypairs.list() == [])
        await wait_for(pilot, lambda: screen.table.rows == [])
        await pilot.press("escape")
        assert isinstance(app.current_pane, SecurityGroupsPane)


async def test_groups_created_attached_detached_and_deleted(cloud: Cloud) -> None:
    await cloud.instances.create("box", "tiny", "t1.nano", start=False)
    app = LecsApp(cloud)
    group = lambda: next((g for g in cloud.sgs.list() if g.name == "lab"), None)  # noqa: E731
    in_groups = lambda: cloud.instances.get("box", reconcile=False).security_groups  # noqa: E731
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4", "n", *"bad name")
        assert isinstance(app.screen, CreateGroupScreen)
        assert "invalid security group name" in error_text(app, "name-error")
        await pilot.press("ctrl+u", *"lab", "tab", *"lab machines", "enter")
        await wait_for(pilot, lambda: group() is not None)
        pane = sg_pane(app)
        await wait_for(pilot, lambda: len(pane.groups_table.rows) == 2)
        await pilot.press("G")  # default, lab
        assert pane.current_group() is not None and pane.current_group().name == "lab"  # type: ignore[union-attr]
        assert [r.cells[:2] for r in pane.rules_table.view] == [("egress", "all")]
        await pilot.press("t")
        assert isinstance(app.screen, PickScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: in_groups() == ["default", "lab"])
        await wait_for(pilot, lambda: pane.groups_table.view[-1].cells[3] == "box")
        await pilot.press("D")  # in use: the backend's refusal becomes a notification
        await pilot.press("y")
        await wait_for(pilot, lambda: any(e.action == "sg.delete" and "in use by box"
                                          in e.error for e in cloud.audit.list(limit=5)))
        assert group() is not None
        await pilot.press("T", "enter")
        await wait_for(pilot, lambda: in_groups() == ["default"])
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: group() is None)
        await wait_for(pilot, lambda: len(pane.groups_table.rows) == 1)


@needs_keygen
async def test_create_instance_with_a_key_pair_through_the_modal(
    cloud: Cloud, tmp_path: Path
) -> None:
    pub = keygen(tmp_path / "id_lab")
    cloud.keypairs.import_key("laptop", pub, tmp_path / "id_lab")
    script = tmp_path / "hello.sh"
    script.write_text("#!/bin/sh\necho hello\n")
    app = LecsApp(cloud)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("n")
        screen = app.screen
        assert isinstance(screen, CreateInstanceScreen)
        await pilot.press(*"kp-1")
        screen.query_one("#keypair", Select).focus()
        await pilot.press("enter", "down", "enter")  # the list: none, laptop
        assert screen.query_one("#keypair", Select).value == "laptop"
        await pilot.press("tab", *"-bad-")
        assert "invalid hostname" in error_text(app, "hostname-error")
        await pilot.press("ctrl+u", *"box-7", "tab")
        await fill(pilot, "#user-data", str(tmp_path / "missing.sh"))
        assert "does not exist" in error_text(app, "user-data-error")
        await fill(pilot, "#user-data", str(script))
        assert error_text(app, "user-data-error") == ""
        await pilot.press("tab", "space")  # start: off
        await pilot.press("ctrl+s")
        assert not isinstance(app.screen, CreateInstanceScreen)
        await wait_for(pilot, lambda: any(i.name == "kp-1" for i in app.instances))
    inst = cloud.instances.get("kp-1")
    assert inst.state is InstanceState.STOPPED
    assert (inst.key_pair, inst.hostname, inst.security_groups) == ("laptop", "box-7",
                                                                      ["default"])
    assert (cloud.paths.home / "seeds" / f"{inst.id}.iso").exists()


# ---- a running guest -------------------------------------------------------------------
@pytest.mark.qemu
async def test_allow_rule_through_the_modal_opens_and_closes_a_forward_live(
    cloud: Cloud,
) -> None:
    cloud.sgs.create("web")
    inst = await cloud.instances.create("web1", "tiny", "t1.micro", sgs=["web"])
    await cloud.instances.wait_ready(inst.id, timeout=90)
    app = LecsApp(cloud)
    port_rows = lambda: [r for r in sg_pane(app).ports_table.rows  # noqa: E731
                         if r.cells[0] == "web1" and r.cells[3] == "tcp"]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4", "G")  # default, web
        pane = sg_pane(app)
        assert pane.current_group().name == "web"  # type: ignore[union-attr]
        assert port_rows() == []
        await pilot.press("a", *"80", "tab", "tab", "ctrl+u", *"127.0.0.1/32", "ctrl+s")
        assert not isinstance(app.screen, AddRuleScreen)
        await wait_for(pilot, lambda: len(port_rows()) == 1)
        host, guest = port_rows()[0].cells[4:6]
        assert host.startswith("127.0.0.1:") and guest == "→ 80 (http)"
        port = int(host.rsplit(":", 1)[1])
        assert port == cloud.instances.get("web1").port_for(80)
        assert "lecs tiny guest" in http_get(port)

        await pilot.press("tab", "g")  # the rules table: the new rule (priority 1) is first
        assert pane.rules_table.has_focus
        assert pane.rules_table.current_row.cells[:6] == (  # type: ignore[union-attr]
            "ingress", "tcp", "80", "127.0.0.1/32", "allow", "1")
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: port_rows() == [])
        assert cloud.instances.get("web1").forwards == []
        assert _refused(port)
        assert [r.cells[:2] for r in pane.rules_table.view] == [("egress", "all")]
