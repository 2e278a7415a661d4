"""Faults a machine throws at lecs end as one-line errors that say what to do, never as an
internal error, and change nothing: a missing QEMU or qemu-img, an unusable LECS_HOME, a URL
with an impossible port, a full disk (where list, show, stop and delete must still work)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend import Cloud

REPO = Path(__file__).resolve().parent.parent


def lecs(home: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LECS_HOME=str(home))
    env.pop("LECS_RUNTIME_DIR", None)
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "app.main", *args], env=env, text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=120, cwd=REPO)


def one_line(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode in (1, 2), result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert text in result.stderr, result.stderr


@pytest.mark.qemu
def test_missing_qemu_system_is_one_line_and_makes_nothing(home: Path, tiny_guest: Path) -> None:
    assert lecs(home, "instance", "create", "s1", "--image", "tiny", "--type", "t1.nano",
                "--no-start").returncode == 0
    one_line(lecs(home, "instance", "create", "q1", "--image", "tiny", "--type", "t1.nano",
                  path="/nonexistent"), "qemu-system-x86_64 is not installed")
    one_line(lecs(home, "instance", "start", "s1", path="/nonexistent"),
             "qemu-system-x86_64 is not installed")
    listed = json.loads(lecs(home, "instance", "list", "--json").stdout)
    assert [(i["name"], i["state"]) for i in listed] == [("s1", "stopped")]
    assert len(list((home / "disks").iterdir())) == 1


def test_missing_qemu_img_is_one_line(home: Path, tmp_path: Path, tiny_guest: Path) -> None:
    source = tmp_path / "source.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(source), "16M"], check=True)
    one_line(lecs(home, "image", "import", str(source), "--name", "i1", path="/nonexistent"),
             "qemu-img is not installed")
    assert "i1" not in lecs(home, "image", "list").stdout


@pytest.mark.parametrize("where", ["/dev/null", "/proc/1/nowhere", "file"])
def test_unusable_lecs_home_is_one_line(tmp_path: Path, where: str) -> None:
    if where == "file":
        (tmp_path / "file").write_text("not a directory")
        where = str(tmp_path / "file" / "home")
    one_line(lecs(Path(where), "instance", "list"), "cannot use")


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/x.qcow2", "http://127.0.0.1:0/x",
                                 "http://127.0.0.1:port/x"])
def test_impossible_url_is_one_line(home: Path, url: str) -> None:
    result = lecs(home, "image", "import", url, "--name", "u1")
    one_line(result, "invalid image URL")
    assert result.returncode == 2


@pytest.fixture
def small_home(tmp_path: Path) -> Iterator[Path]:
    """LECS_HOME on a 96 MiB tmpfs of its own (root only), so it can be filled up."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=96M,mode=0700", "tmpfs", str(mount)],
            capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        yield mount / "home"
    finally:
        subprocess.run(["pkill", "-f", f"lecs-{os.getuid()}"], capture_output=True)
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.mark.qemu
def test_full_disk_still_lists_shows_stops_and_deletes(small_home: Path,
                                                      tiny_guest: Path) -> None:
    home = small_home
    for name in ("f1", "f2"):
        assert lecs(home, "instance", "create", name, "--image", "tiny", "--type",
                    "t1.nano").returncode == 0
    filler = home.parent / "filler"
    with open(filler, "wb") as out:  # fill the file system to the last block
        try:
            while True:
                out.write(b"\0" * (1 << 20))
                out.flush()
        except OSError:
            pass
    try:
        with open(home.parent / "crumbs", "wb") as out:
            while True:
                out.write(b"\0" * 4096)
                out.flush()
    except OSError:
        pass
    assert shutil.disk_usage(home).free < (1 << 20)
    listed = lecs(home, "instance", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {i["name"] for i in json.loads(listed.stdout)} == {"f1", "f2"}
    assert lecs(home, "instance", "show", "f1").returncode == 0
    stopped = lecs(home, "instance", "stop", "f1")
    assert stopped.returncode == 0, stopped.stderr
    killed = lecs(home, "instance", "force-stop", "f2")
    assert killed.returncode == 0, killed.stderr
    deleted = lecs(home, "instance", "delete", "f1", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    filler.unlink()
    assert lecs(home, "instance", "delete", "f2", "--yes").returncode == 0
    assert json.loads(lecs(home, "instance", "list", "--json").stdout) == []


def test_doctor_reports_files_no_row_owns(home: Path, tiny_guest: Path) -> None:
    assert lecs(home, "disk", "create", "keep", "--size", "1").returncode == 0
    stray = home / "disks" / "copied-by-hand.qcow2"
    stray.write_bytes(b"not ours")
    checks = {c["check"]: c for c in json.loads(lecs(home, "doctor", "--json").stdout)}
    assert not checks["unowned files"]["ok"]
    assert str(stray) in checks["unowned files"]["detail"]
    assert "keep" not in checks["unowned files"]["detail"]
    assert stray.exists()  # reported, never removed
    assert checks["recovery"]["ok"]


def test_a_locked_inventory_can_still_be_read(home: Path, tiny_guest: Path) -> None:
    """Another process holding the write lock (a long transaction) never blocks reading."""
    import sqlite3

    assert lecs(home, "disk", "create", "r1", "--size", "1").returncode == 0
    holder = sqlite3.connect(home / "lecs.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE disks SET size_gib = size_gib")
        for verb in (("disk", "list"), ("instance", "list"), ("image", "list"),
                     ("event", "list")):
            result = lecs(home, *verb)
            assert result.returncode == 0, result.stderr
        assert "r1" in lecs(home, "disk", "list").stdout
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.mark.qemu
def test_a_read_only_inventory_can_still_be_read(small_home: Path, tiny_guest: Path) -> None:
    """A read-only mount (root cannot be kept out by file modes): lists work, writes are
    refused with one line, and nothing is changed."""
    home = small_home
    assert lecs(home, "disk", "create", "r1", "--size", "1").returncode == 0
    assert lecs(home, "instance", "create", "ro1", "--image", "tiny", "--type", "t1.nano",
                "--no-start").returncode == 0
    before = (home / "lecs.db").read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(home.parent)], check=True)
    try:
        for verb in (("instance", "list"), ("instance", "show", "ro1"), ("disk", "list"),
                     ("image", "list"), ("event", "list"), ("sg", "list")):
            result = lecs(home, *verb, "--json")
            assert result.returncode == 0, (verb, result.stderr)
        names = {d["name"] for d in json.loads(lecs(home, "disk", "list", "--json").stdout)}
        assert names == {"r1", "ro1-system"}
        for verb in (("disk", "create", "r2", "--size", "1"), ("instance", "start", "ro1"),
                     ("instance", "delete", "ro1", "--yes"), ("sg", "create", "web")):
            one_line(lecs(home, *verb), "the inventory is read-only here")
        doctor = {c["check"]: c for c in json.loads(lecs(home, "doctor", "--json").stdout)}
        assert "read-only" in doctor["inventory"]["detail"]
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(home.parent)], check=True)
    assert (home / "lecs.db").read_bytes() == before


def test_a_disk_whose_file_is_gone_shows_as_error(home: Path, tiny_guest: Path) -> None:
    """Reading checks rows against reality without writing: a missing file is an error with
    the reason, and the disk can still be deleted."""
    assert lecs(home, "disk", "create", "gone", "--size", "1").returncode == 0
    disk = json.loads(lecs(home, "disk", "show", "gone", "--json").stdout)
    Path(disk["path"]).unlink()
    shown = json.loads(lecs(home, "disk", "list", "--json").stdout)
    assert [(d["name"], d["state"]) for d in shown] == [("gone", "error")]
    assert shown[0]["problem"] == f"its file {disk['path']} is missing"
    assert "error" in lecs(home, "disk", "list").stdout
    deleted = lecs(home, "disk", "delete", "gone", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(lecs(home, "disk", "list", "--json").stdout) == []


def test_the_demo_files_are_there_and_a_relative_or_home_path_is_checked(
        demo_cloud: Cloud, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo inventory's disk and image files exist (placeholders in its LECS_HOME), so
    nothing of it reads as missing; a `~/…` or relative path is checked as it stands, like
    any other, not skipped."""
    disks, images = demo_cloud.disks.list(), demo_cloud.images.list()
    assert disks and images
    assert [d.problem for d in disks if d.problem] == []  # (a demo disk may be in error)
    assert [i.problem for i in images if i.problem] == []
    assert all(d.path.startswith(f"{home}/disks/") for d in disks)
    disks = [d for d in disks if d.state.value in ("available", "in-use")]  # checked ones
    with demo_cloud.store.transaction() as db:  # rows written by something other than lecs
        db.execute("UPDATE disks SET path = ? WHERE name = ?", ["~/d1.qcow2", disks[0].name])
        db.execute("UPDATE disks SET path = ? WHERE name = ?", ["d2.qcow2", disks[1].name])
    monkeypatch.chdir(tmp_path)
    gone = {d.name: d.problem for d in demo_cloud.disks.list() if d.problem}
    assert gone == {disks[0].name: "its file ~/d1.qcow2 is missing",
                    disks[1].name: "its file d2.qcow2 is missing"}
    (tmp_path / "d2.qcow2").touch()  # relative to where lecs runs: there now
    assert [d.name for d in demo_cloud.disks.list() if d.problem] == [disks[0].name]


def test_an_image_or_backup_whose_file_is_gone_shows_as_error(home: Path, tmp_path: Path,
                                                              tiny_guest: Path) -> None:
    src = tmp_path / "small.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(src), "16M"], check=True)
    assert lecs(home, "image", "import", str(src), "--name", "small").returncode == 0
    image = json.loads(lecs(home, "image", "show", "small", "--json").stdout)
    Path(image["path"]).unlink()
    shown = {i["name"]: i for i in json.loads(lecs(home, "image", "list", "--json").stdout)}
    assert shown["small"]["state"] == "error" and shown["tiny"]["state"] == "available"
    assert shown["small"]["problem"] == f"its file {image['path']} is missing"
    assert lecs(home, "image", "delete", "small", "--yes").returncode == 0

    assert lecs(home, "instance", "create", "b1", "--image", "tiny", "--no-start").returncode == 0
    assert lecs(home, "backup", "create", "b1", "--name", "bk").returncode == 0
    backup = json.loads(lecs(home, "backup", "show", "bk", "--json").stdout)
    Path(backup["disks"][0]["path"]).unlink()
    listed = json.loads(lecs(home, "backup", "list", "--json").stdout)
    assert [(b["name"], b["state"]) for b in listed] == [("bk", "error")]
    assert "is missing" in listed[0]["error"]
    restore = lecs(home, "backup", "restore", "bk", "--yes")
    assert restore.returncode != 0 and restore.stderr.count("\n") == 1
    assert "internal error" not in restore.stderr
    assert lecs(home, "backup", "delete", "bk", "--yes").returncode == 0


@pytest.mark.parametrize("leaf", [True, False])
def test_a_symlinked_runtime_dir_is_refused(home: Path, tmp_path: Path, leaf: bool) -> None:
    """Someone else's link in /tmp (the runtime dir or its parent) is never followed: lecs
    refuses with one line and leaves the link's target as it was."""
    from backend.inventory.paths import Paths

    runtime = Paths.from_env(str(home)).runtime
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o755)
    target.chmod(0o755)
    link = runtime if leaf else tmp_path / "fake-parent"
    if leaf:
        runtime.parent.mkdir(parents=True, exist_ok=True)
        runtime.symlink_to(target)
    try:
        if leaf:
            one_line(lecs(home, "instance", "list"), "is a symbolic link; refusing to use it")
        else:  # LECS_RUNTIME_DIR is the user's own choice: resolved, then checked as a dir
            link.symlink_to(target)
            env = dict(os.environ, LECS_HOME=str(home), LECS_RUNTIME_DIR=str(link))
            ok = subprocess.run([sys.executable, "-m", "app.main", "instance", "list"],
                                env=env, capture_output=True, text=True, cwd=REPO, timeout=60)
            assert ok.returncode == 0, ok.stderr
        assert (target.stat().st_mode & 0o777) == (0o755 if leaf else 0o700)
    finally:
        if leaf:
            runtime.unlink()


def test_doctor_finds_images_stored_before_imports_were_checked(home: Path,
                                                               tmp_path: Path) -> None:
    """An image stored by an older lecs whose qcow2 names an external data file (a host
    file every instance would open) is reported by `lecs doctor`."""
    src = tmp_path / "ok.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(src), "16M"], check=True)
    assert lecs(home, "image", "import", str(src), "--name", "old").returncode == 0
    stored = Path(json.loads(lecs(home, "image", "show", "old", "--json").stdout)["path"])
    canary = tmp_path / "host-secret.raw"
    canary.write_bytes(b"SECRET" * 100)
    stored.unlink()
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o",
                    f"data_file={canary},data_file_raw=on", str(stored), "16M"], check=True)
    checks = {c["check"]: c for c in json.loads(lecs(home, "doctor", "--json").stdout)}
    assert not checks["disk chains"]["ok"]
    assert "image old" in checks["disk chains"]["detail"]


def test_first_use_on_a_full_disk_is_one_line_and_leaves_no_files(small_home: Path,
                                                                  tiny_guest: Path) -> None:
    """A fresh inventory on a full disk: registering the tiny guest (a copy of its kernel and
    initrd) fails in one line, and the journal takes back what the copy had written."""
    home = small_home
    with open(home.parent / "filler", "wb") as out:  # leave ~2 MiB: room for the inventory only
        left = shutil.disk_usage(home.parent).free - (2 << 20)
        while left > 0:
            left -= out.write(b"\0" * min(left, 1 << 20))
    listed = lecs(home, "instance", "list")
    one_line(listed, "cannot register the tiny guest")
    assert "no space left" in listed.stderr.lower(), listed.stderr
    assert [p for p in (home / "images").rglob("*") if p.is_file()] == []
    (home.parent / "filler").unlink()
    again = lecs(home, "image", "list", "--json")
    assert again.returncode == 0, again.stderr
    assert [i["name"] for i in json.loads(again.stdout)] == ["tiny"]
