"""Files under LECS_HOME that no row owns (shown by `lecs doctor`).

The journal removes what a killed operation made; anything still here came from elsewhere (a
hand copy, an older lecs) and may be the user's, so it is reported, never removed.
"""

from __future__ import annotations

from pathlib import Path

from backend.inventory.paths import Paths
from backend.inventory.store import Store

KEY_PREFIXES = ("d-", "img-", "bk-")  # the key store's files: disks, image and backup copies


def unowned(paths: Paths, store: Store) -> list[Path]:
    def ids(sql: str) -> set[str]:
        return {str(r[0]) for r in store.execute(sql).fetchall()}

    disk_files = {Path(p).name for p in ids("SELECT path FROM disks")}
    images, backups = ids("SELECT id FROM images"), ids("SELECT id FROM backups")
    instances, pairs = ids("SELECT id FROM instances"), ids("SELECT name FROM keypairs")
    found: list[Path] = []
    home = paths.home
    found += [f for f in _entries(home / "disks") if f.name not in disk_files]
    found += [d for d in _entries(home / "images") if d.name not in images]
    found += [d for d in _entries(home / "backups") if d.name not in backups]
    found += [f for f in _entries(home / "seeds") if f.stem not in instances]
    found += [f for f in _entries(home / "keys")
              if not f.name.startswith(KEY_PREFIXES) and f.name.removesuffix(".pub") not in pairs]
    return found


def _entries(directory: Path) -> list[Path]:
    try:
        return sorted(directory.iterdir())
    except OSError:
        return []
