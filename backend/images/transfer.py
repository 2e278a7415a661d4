"""Images that arrive over the wire or from an instance: http(s) import, create-from-instance.

Both show as `creating` while they run, report progress as (fraction, phase), and are
cancellable: cancelling the task (or Ctrl-C in the CLI) removes the partial files and the
row, and the audit trail records the failure. An uploaded or downloaded file is untrusted:
it is admitted only as one standalone file (backend/images/inspect.py, intake.py), a qcow2
or raw kept as it is, vmdk, vdi and friends converted to qcow2 by qemu-img under resource
limits and proven standalone again. An image from an instance is checked
the same way: its source chain only lecs's own files, its result one standalone qcow2.
A URL's user:password and query (a signed URL's secret) never reach the image's source, the
audit trail, the journal nor an error (`public_url`, `redact`). The checksum recorded for an
import is the BLAKE3 of the bytes imported, as `blake3:<hex>` (image_disks.file_checksum);
a given `checksum` (`sha256:<hex>` as a publisher's SHA256SUMS lists, or `blake3:<hex>`) is
verified before anything is kept, and sha256 is computed only then. An image from an
instance records the disks it captured (system, and data disks for a full-instance image) in
`image_disks`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import blake3

from backend.drivers.qemu import volume
from backend.drivers.qemu.volume import Volume
from backend.images import capture as image_disks
from backend.images import inspect, intake
from backend.inventory import journal, validate
from backend.inventory.errors import LecsError, NotFoundError, StateError, ValidationError
from backend.inventory.ids import new_id
from backend.inventory.paths import private_dir
from backend.inventory.records import Image, ImageState, InstanceState

if TYPE_CHECKING:
    from backend.images.service import Images

Progress = Callable[[float, str], None]
SHA256_RE = re.compile(r"^(sha256:)?([0-9a-fA-F]{64})$")
CHECKSUM_RE = re.compile(r"^(?:(sha256|blake3):)?([0-9a-fA-F]{64})$")
CHUNK = 1 << 20
URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def public_url(url: str) -> str:
    """The URL without user:password@ nor its query and fragment (a signed URL's secret):
    what the audit trail, the journal and the image's source keep."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    try:
        port = parts.port
    except ValueError:  # check_url says what is wrong with it
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact(text: str) -> str:
    """`text` (an error from an HTTP library, say) with every URL in it made public."""
    return URL_RE.sub(lambda found: public_url(found.group(0)), text)


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"invalid image URL {public_url(url)!r}: use http:// or https://")
    try:
        if parts.port == 0:
            raise ValueError("port 0")
    except ValueError:
        raise ValidationError(f"invalid image URL {public_url(url)!r}: its port is not"
                              " a number from 1 to 65535") from None
    return url


def check_sha256(value: str | None) -> str | None:
    if value is None:
        return None
    found = SHA256_RE.match(value.strip())
    if not found:
        raise ValidationError("invalid checksum: expected sha256:<64 hex digits>")
    return found.group(2).lower()


def check_checksum(value: str | None) -> tuple[str, str] | None:
    """An expected checksum as (algorithm, hex): `sha256:HEX`, bare HEX (sha256) or
    `blake3:HEX`."""
    if value is None:
        return None
    found = CHECKSUM_RE.match(value.strip())
    if not found:
        raise ValidationError("invalid checksum: expected sha256:<64 hex digits>"
                              " or blake3:<64 hex digits>")
    return found.group(1) or "sha256", found.group(2).lower()


def _httpx() -> ModuleType:
    """httpx, imported on first use and without its command-line module, which would load
    rich (and click) into the engine: the engine never imports UI libraries."""
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    import httpx

    return httpx


async def download(
    url: str, dest: Path, progress: Progress | None, sha256: bool = False
) -> tuple[str, str, int]:
    """Stream `url` into `dest` (0600); returns (`blake3:<hex>`, sha256 hex or "" unless
    `sha256`, bytes). Hashing runs on the received chunks, so nothing is read back."""
    httpx = _httpx()
    digest = blake3.blake3()
    verify = hashlib.sha256() if sha256 else None
    done = 0
    timeout = httpx.Timeout(30.0, read=60.0)
    try:
        async with httpx.AsyncClient(follow_redirects=True, timeout=timeout) as client:
            async with client.stream("GET", url) as reply:
                if reply.status_code != 200:
                    raise LecsError(f"download of {public_url(url)} failed: HTTP"
                                    f" {reply.status_code} {reply.reason_phrase}")
                total = int(reply.headers.get("content-length") or 0)
                fd = os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as fout:
                    async for chunk in reply.aiter_bytes(CHUNK):
                        digest.update(chunk)
                        if verify is not None:
                            verify.update(chunk)
                        fout.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(min(1.0, done / total) if total else 0.0, "download")
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
        raise LecsError(f"download of {public_url(url)} failed:"
                        f" {redact(str(exc)) or type(exc).__name__}") from None
    if progress:
        progress(1.0, "download")
    return "blake3:" + digest.hexdigest(), verify.hexdigest() if verify else "", done


def _creating_row(images: Images, image_id: str, name: str, os_name: str, source: str,
                  login_user: str) -> None:
    with images.store.transaction() as db:
        db.table("images").insert({
            "id": image_id, "name": name, "format": "", "size_bytes": 0, "os": os_name,
            "source": source, "checksum": "", "state": ImageState.CREATING.value,
            "created_at": time.time(), "path": "", "kernel": "", "initrd": "", "cmdline": "",
            "login_user": login_user,
        })


def _finish(images: Images, image_id: str, **fields: Any) -> Image:
    with images.store.transaction() as db:
        db.table("images").update(image_id, {**fields, "state": ImageState.AVAILABLE.value})
    return images.get(image_id)


def discard(images: Images, image_id: str) -> None:
    with images.store.transaction() as db:  # its image_disks rows go with it (cascade)
        db.execute("DELETE FROM images WHERE id = ?", [image_id])
    shutil.rmtree(images.paths.images / image_id, ignore_errors=True)
    image_disks.remove_keys(images.paths, image_id)


async def import_url(
    images: Images, url: str, name: str, os_name: str = "", checksum: str | None = None,
    progress: Progress | None = None, fmt: str | None = None, login_user: str = "root",
) -> Image:
    params = {"url": public_url(url), "name": name, "checksum": checksum, "format": fmt,
              "login_user": login_user}
    with images.audit.track("image.import", name, params) as t:
        images._check_new_name(name)
        validate.name(login_user, "login user")
        check_url(url)
        expected = check_checksum(checksum)
        fmt = inspect.check_format(fmt)
        image_id = new_id("img")
        t.resource = image_id
        journal.effect("image.purge", image=image_id)  # before its dir and row exist
        directory = private_dir(images.paths.images / image_id)
        _creating_row(images, image_id, name, os_name, f"url:{public_url(url)}", login_user)
        try:
            part = directory / "download.part"
            want_sha256 = expected is not None and expected[0] == "sha256"
            digest, sha256, _size = await download(url, part, progress, sha256=want_sha256)
            journal.step("downloaded")
            if expected:
                algorithm, value = expected
                got = sha256 if algorithm == "sha256" else digest.removeprefix("blake3:")
                if got != value:
                    raise ValidationError(f"checksum mismatch for {public_url(url)}: expected"
                                          f" {algorithm} {value[:16]}…, got {got[:16]}…")
            fmt, final, size = await intake.store(part, fmt, directory, name, progress)
            return _finish(images, image_id, format=fmt, size_bytes=size, checksum=digest,
                           path=str(final))
        except BaseException:
            discard(images, image_id)
            raise


async def create_from_instance(
    images: Images, instance: str, name: str, progress: Progress | None = None,
    full: bool = False,
) -> Image:
    """An image of a stopped instance's system disk, flattened to one standalone qcow2;
    `full` adds every attached data disk (a full-instance image, see backend/images/capture.py).
    From a kernel+initrd image the new image keeps that kernel and boots the same way."""
    from backend.images.service import _link_or_copy

    with images.audit.track("image.create-from-instance", instance,
                            {"instance": instance, "name": name, "full": full}) as t:
        images._check_new_name(name)
        inst = images.store.row("SELECT * FROM instances WHERE id = ? OR name = ?",
                                [instance, instance])
        if inst is None:
            raise NotFoundError(f"instance {instance!r} not found")
        async with images.locks.hold(inst["id"]):  # its disks' changes all take this lock
            inst = images.store.row("SELECT * FROM instances WHERE id = ?", [inst["id"]])
            assert inst is not None
            if inst["state"] != InstanceState.STOPPED:
                raise StateError(
                    f"cannot create an image from instance {inst['name']!r}: it is"
                    f" {inst['state']} (create-from-instance needs it stopped)"
                )
            disks = images.store.rows(
                "SELECT * FROM disks WHERE instance_id = ? ORDER BY position", [inst["id"]])
            disk = next((d for d in disks if d["role"] == "system"), None)
            if disk is None:
                raise StateError(f"instance {inst['name']!r} has no system disk")
            data = [d for d in disks if d["role"] == "data"] if full else []
            source = images.get(inst["image_id"])
            image_id = new_id("img")
            journal.effect("image.purge", image=image_id)  # before its dir and row exist
            t.resource = image_id
            directory = private_dir(images.paths.images / image_id)
            _creating_row(images, image_id, name, source.os, f"instance:{inst['id']}",
                          source.login_user)  # the same guest: the same login user
            try:
                final = directory / "disk.qcow2"
                label = "system disk" if full else "convert"
                system = Volume(Path(disk["path"]), format=disk["format"] or "qcow2")
                await volume.owned_chain(system, images.paths.home)  # opens nothing else
                await volume.convert(system, Volume(final),
                                     lambda f: progress(f, label) if progress else None)
                await volume.sealed(Volume(final))
                fields: dict[str, Any] = {"format": "qcow2", "path": str(final)}
                if source.is_kernel:
                    kernel, initrd = directory / "kernel", directory / "initrd"
                    await asyncio.to_thread(_link_or_copy, Path(source.kernel), kernel)
                    await asyncio.to_thread(_link_or_copy, Path(source.initrd), initrd)
                    fields.update(format="kernel", kernel=str(kernel), initrd=str(initrd),
                                  cmdline=source.cmdline)
                rows = [await image_disks.describe(image_id, final, 0, disk, False)]
                rows += await image_disks.capture_data(images.paths, image_id, directory, data,
                                                       progress)
                # the image's checksum is its system disk's; each disk's is in its row
                fields["checksum"] = rows[0]["checksum"]
                fields["size_bytes"] = rows[0]["virtual_size"]
                with images.store.transaction() as db:
                    db.table("image_disks").insert_all(rows)
                return _finish(images, image_id, **fields)
            except BaseException:
                discard(images, image_id)
                raise
