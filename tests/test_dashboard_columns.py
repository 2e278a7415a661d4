"""Issue #13 item 4: at 80×24 columns are cut with "…" before they are dropped, the header
says how many are hidden ("+N ›"), and right/left (l/h) scroll to them, in every table."""

from __future__ import annotations

from app.tui.app import LecsApp
from app.tui.screens.keypair_list import KeyPairsScreen
from app.tui.widgets.vtable import VirtualTable
from backend import Cloud
from sample_data.demo import demo_clock, demo_facts
from tests.test_dashboard import wait_for


def demo_app(cloud: Cloud) -> LecsApp:
    return LecsApp(cloud, clock=demo_clock, facts=demo_facts(), reconcile=False)


def header(table: VirtualTable) -> str:
    return table.render_line(0).text


async def test_instances_keep_ports_tags_and_cpu_at_80x24(demo_cloud: Cloud) -> None:
    web1 = next(i for i in demo_cloud.instances.list(reconcile=False) if i.name == "web-1")
    demo_cloud.store.db.table("forwards").insert({  # a third forward makes the cell wide
        "instance_id": web1.id, "protocol": "tcp", "host_addr": "127.0.0.1",
        "host_port": 40143, "guest_port": 443})
    app = demo_app(demo_cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.current_pane.table
        await wait_for(pilot, lambda: bool(table.rows))
        shown = table.shown_columns
        assert {"name", "state", "ports", "tags", "cpu"} <= set(shown), shown
        row = next(i for i, r in enumerate(table.view) if r.cells[0] == "web-1")
        web1_line = table.render_line(1 + row).text
        assert "40122→22" in web1_line and "…" in web1_line  # cut, not dropped
        assert f"+{table.hidden_columns} ›" in header(table)
        seen = set(shown)
        for _ in range(len(table.columns)):
            await pilot.press("right")
            seen |= set(table.shown_columns)
            assert header(table).startswith("‹")
        assert seen == {c.key for c in table.columns}  # every column reachable
        assert "+" not in header(table)  # the last one is in view
        for _ in range(len(table.columns)):
            await pilot.press("h")
        assert table.shown_columns == shown


async def test_keypair_list_shows_every_column_at_80x24(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(KeyPairsScreen())
        await wait_for(pilot, lambda: isinstance(app.screen, KeyPairsScreen)
                       and any(t.rows for t in app.screen.query(VirtualTable)))
        table = app.screen.query_one(VirtualTable)
        await pilot.pause()
        assert table.shown_columns == [c.key for c in table.columns]
        fingerprint = table.rows[0].cells[2]
        for _ in range(len(table.columns)):
            await pilot.press("l")
        line = table.render_line(1 + table.cursor).text
        assert table.current_row is not None
        assert table.current_row.cells[2] in line or fingerprint in line
