"""Key pairs: OpenSSH public keys checked, fingerprints as ssh-keygen prints them, 0600 keys."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from backend import Cloud
from backend.inventory.errors import ConflictError, NotFoundError, ValidationError

needs_keygen = pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="no ssh-keygen")


def _keygen(path: Path, kind: str = "ed25519") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "me@lab", "-f", str(path)],
                   check=True, stdin=subprocess.DEVNULL)
    return path


@needs_keygen
def test_import_shows_the_ssh_keygen_fingerprint(bare_cloud: Cloud, tmp_path: Path) -> None:
    for kind in ("ed25519", "rsa", "ecdsa"):
        key = _keygen(tmp_path / f"id_{kind}", kind)
        pub = Path(str(key) + ".pub")
        pair = bare_cloud.keypairs.import_key(f"k-{kind}", pub, key)
        expected = subprocess.run(["ssh-keygen", "-l", "-f", str(pub)], check=True,
                                  capture_output=True, text=True).stdout.split()[1]
        assert pair.fingerprint == expected
        assert pair.comment == "me@lab" and pair.private_key_path == str(key)
    text_pair = bare_cloud.keypairs.import_key("inline", (tmp_path / "id_rsa.pub").read_text())
    assert text_pair.key_type == "ssh-rsa"
    assert [k.name for k in bare_cloud.keypairs.list()] == [
        "inline", "k-ecdsa", "k-ed25519", "k-rsa"]
    assert bare_cloud.paths.db.stat().st_mode & 0o777 == 0o600


@needs_keygen
def test_bad_keys_are_refused_and_nothing_is_stored(bare_cloud: Cloud, tmp_path: Path) -> None:
    key = _keygen(tmp_path / "id")
    good = Path(str(key) + ".pub").read_text()
    kind, data, _ = good.split(" ", 2)
    cases = [
        (str(key), "that is a private key"),
        ("ssh-dss AAAAB3NzaC1kc3M= x", "unknown key type 'ssh-dss'"),
        (f"{kind} {data[:-8]}!!!!", "damaged"),
        (f"ssh-rsa {data}", "data says 'ssh-ed25519', line says 'ssh-rsa'"),
        (good + good, "exactly one"),
        (str(tmp_path / "missing.pub"), "does not exist"),
    ]
    for source, message in cases:
        with pytest.raises(ValidationError, match=message):
            bare_cloud.keypairs.import_key("bad", source)
    with pytest.raises(ValidationError, match="invalid key pair name"):
        bare_cloud.keypairs.import_key("../x", good)
    assert bare_cloud.keypairs.list() == []
    failures = [e for e in bare_cloud.audit.list() if e.action == "keypair.import"]
    assert len(failures) == len(cases) + 1 and all(e.result == "failure" for e in failures)
    bare_cloud.keypairs.import_key("ok", good)
    with pytest.raises(ConflictError, match="exists already"):
        bare_cloud.keypairs.import_key("ok", good)


@needs_keygen
async def test_create_keeps_the_private_key_0600_and_delete_removes_it(
    bare_cloud: Cloud,
) -> None:
    pair = await bare_cloud.keypairs.create("gen")
    private = Path(pair.private_key_path)
    assert private.parent == bare_cloud.paths.home / "keys"
    assert private.stat().st_mode & 0o777 == 0o600
    assert private.parent.stat().st_mode & 0o777 == 0o700
    assert Path(str(private) + ".pub").stat().st_mode & 0o777 == 0o600
    assert pair.key_type == "ssh-ed25519" and pair.fingerprint.startswith("SHA256:")
    bare_cloud.keypairs.delete("gen")
    assert not private.exists()
    with pytest.raises(NotFoundError, match="key pair 'gen' not found"):
        bare_cloud.keypairs.delete("gen")
    actions = [(e.action, e.result) for e in bare_cloud.audit.list()]
    assert ("keypair.create", "success") in actions and ("keypair.delete", "failure") in actions
