"""Where lecs keeps its data (LECS_HOME) and its runtime state (sockets, pid files)."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from backend.inventory.errors import LecsError


def missing_file(*paths: str | None) -> str:
    """'its file X is missing' for the first of `paths` that is gone, else "".

    For reads that check a row against reality without writing (a row whose file is gone
    shows as error). Every path is checked as it is recorded: a relative or `~/…` one is
    opened as it stands too (lecs writes absolute paths; the demo makes placeholder files).
    """
    for path in paths:
        if path and not os.path.exists(path):
            return f"its file {path} is missing"
    return ""


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) and make the leaf 0700; refuse a dir owned by someone else
    or a symbolic link (in /tmp anyone could plant one to point lecs at a dir of theirs).
    The checks never follow a link: lstat, and chmod through a descriptor of the dir itself."""
    path.mkdir(parents=True, exist_ok=True)
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise LecsError(f"{path} is a symbolic link; refusing to use it (remove it, or set"
                        " LECS_RUNTIME_DIR / LECS_HOME to a directory of your own)")
    if not stat.S_ISDIR(st.st_mode):
        raise LecsError(f"{path} is not a directory; refusing to use it")
    if st.st_uid != os.getuid():
        raise LecsError(f"{path} is owned by uid {st.st_uid}, not by you; refusing to use it")
    if stat.S_IMODE(st.st_mode) != 0o700:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            os.fchmod(fd, 0o700)
        finally:
            os.close(fd)
    return path


@dataclass(frozen=True, slots=True)
class Paths:
    home: Path
    runtime: Path

    @classmethod
    def from_env(cls, home: Path | str | None = None) -> Paths:
        raw = home or os.environ.get("LECS_HOME") or platformdirs.user_data_dir("lecs")
        home_path = Path(raw).expanduser().resolve()
        runtime_env = os.environ.get("LECS_RUNTIME_DIR")
        if runtime_env:
            runtime = Path(runtime_env).expanduser().resolve()
        else:
            # Unix socket paths are limited to 107 bytes, so the runtime dir is short and
            # derived from LECS_HOME: two inventories never share sockets.
            digest = hashlib.sha256(str(home_path).encode()).hexdigest()[:10]
            runtime = Path("/tmp") / f"lecs-{os.getuid()}" / digest
        return cls(home=home_path, runtime=runtime)

    def ensure(self) -> None:
        for path in (self.home, self.images, self.disks, self.runtime.parent, self.runtime):
            try:
                private_dir(path)
            except OSError as exc:
                where = "LECS_HOME" if path.is_relative_to(self.home) else "the runtime dir"
                raise LecsError(f"cannot use {path} ({where}): {exc.strerror or exc}") from None

    @property
    def db(self) -> Path:
        return self.home / "lecs.db"

    @property
    def images(self) -> Path:
        return self.home / "images"

    @property
    def disks(self) -> Path:
        return self.home / "disks"

    def instance_runtime(self, instance_id: str) -> Path:
        return self.runtime / instance_id


TINY = "tiny"  # the image name the tiny guest is registered as (backend/images/service.py)


def guest_dir() -> Path:
    """Where sample_data/build_guest.py puts the tiny guest."""
    env = os.environ.get("LECS_GUEST_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lecs" / "guest"


def cloud_image_dir() -> Path:
    """Where sample_data/build_cloud_image.py puts the Debian cloud image (and its manifest)."""
    env = os.environ.get("LECS_CLOUD_IMAGE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lecs" / "cloud-image"
