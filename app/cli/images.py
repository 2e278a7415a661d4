"""`lecs image …`: list, show, import (file, URL or kernel+initrd), capture and delete images."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from app import render
from app.cli.output import confirm, destructive, noun, out, verb
from backend import Cloud
from backend.inventory.errors import ValidationError


async def image_list(cloud: Cloud, args: argparse.Namespace) -> None:
    images = cloud.images.list()
    out(args, images, lambda: render.table(
        ["ID", "NAME", "FORMAT", "SIZE", "STATE", "LOGIN", "OS", "CHECKSUM"],
        [[i.id, i.name, i.format, render.size(i.size_bytes), i.state.value, i.login_user, i.os,
          _short_checksum(i.checksum, 12)] for i in images]))


def _short_checksum(checksum: str, digits: int = 16) -> str:
    """`blake3:0123…` — the algorithm and the first `digits` hex digits."""
    algorithm, _, value = checksum.rpartition(":")
    if not value:
        return ""
    return f"{algorithm}:{value[:digits]}…" if algorithm else f"{value[:digits]}…"


def _image_disks(image: Any) -> list[str]:
    return [f"disk {d.position}: {d.role} {d.size_gib} GiB {d.format}"
            f"{' encrypted' if d.encrypted else ''} {_short_checksum(d.checksum)}"
            f" (from {d.source_disk_name or '?'}) {d.path}" for d in image.disks]


async def image_show(cloud: Cloud, args: argparse.Namespace) -> None:
    image = cloud.images.get(args.image)
    out(args, image, lambda: "\n".join(
        [f"{k}: {v}" for k, v in render.to_jsonable(image).items() if k != "disks"]
        + _image_disks(image)))


def _progress(args: argparse.Namespace) -> Callable[[float, str], None] | None:
    if args.json or not sys.stderr.isatty():
        return None

    def show(fraction: float, label: str) -> None:
        width = 30
        done = int(fraction * width)
        sys.stderr.write(f"\r{label} [{'#' * done}{'.' * (width - done)}] {fraction:4.0%}")
        if fraction >= 1:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


async def image_import(cloud: Cloud, args: argparse.Namespace) -> None:
    if args.kernel or args.initrd:
        if not (args.kernel and args.initrd) or args.path:
            raise ValidationError("a kernel image needs --kernel and --initrd and no PATH")
        image = await cloud.images.import_kernel(
            args.kernel, args.initrd, args.name,
            cmdline=args.cmdline or "console=ttyS0 panic=-1 quiet", os_name=args.os or "",
            login_user=args.login_user)
    else:
        if not args.path:
            raise ValidationError("give a disk image PATH or URL, or --kernel and --initrd")
        if args.path.startswith(("http://", "https://")):
            image = await cloud.images.import_url(args.path, args.name, args.os or "",
                                                  args.checksum, progress=_progress(args),
                                                  fmt=args.format, login_user=args.login_user)
        else:
            image = await cloud.images.import_disk(args.path, args.name, args.os or "",
                                                   progress=_progress(args), fmt=args.format,
                                                   login_user=args.login_user)
    out(args, image, lambda: f"imported {image.name} ({image.id}, {image.format}, "
        f"{render.size(image.size_bytes)}, {_short_checksum(image.checksum)})")


async def image_create_from_instance(cloud: Cloud, args: argparse.Namespace) -> None:
    image = await cloud.images.create_from_instance(args.instance, args.name, _progress(args),
                                                    full=args.full)
    data = f" + {len(image.data_disks)} data disk(s)" if args.full else ""
    out(args, image, lambda: f"created image {image.name} ({image.id}) from {args.instance}:"
        f" system disk{data}")


async def image_delete(cloud: Cloud, args: argparse.Namespace) -> None:
    image = cloud.images.get(args.image)
    confirm(args, f"delete image {image.name} ({image.id})")
    cloud.images.delete(args.image)
    out(args, {"deleted": args.image}, lambda: f"deleted image {args.image}")


def register(nouns: Any) -> None:
    im = noun(nouns, "image", "images")
    verb(im, "list", image_list, "list images")
    verb(im, "show", image_show, "show an image").add_argument("image")
    p = verb(im, "import", image_import, "import a disk image (file or http(s) URL) or a"
             " kernel+initrd")
    p.add_argument("path", nargs="?", help="a file, or an http:// or https:// URL")
    p.add_argument("--checksum", help="sha256:HEX (or blake3:HEX) to verify a download against")
    p.add_argument("--format", help="the file's format (qcow2, raw, vmdk, vdi, vpc, vhdx, qed);"
                   " default: read from its header")
    p.add_argument("--name", required=True)
    p.add_argument("--kernel")
    p.add_argument("--initrd")
    p.add_argument("--cmdline")
    p.add_argument("--os")
    p.add_argument("--login-user", default="root", metavar="USER",
                   help="who its guest lets in over ssh (default root; Debian's cloud images:"
                   " debian); `lecs instance ssh` logs in as it")
    p = verb(im, "create-from-instance", image_create_from_instance,
             "an image of a stopped instance's system disk (--full: and its data disks)")
    p.add_argument("instance")
    p.add_argument("--name", required=True)
    p.add_argument("--full", "--with-data", action="store_true", dest="full",
                   help="a full-instance image: the system disk and every attached data disk")
    destructive(verb(im, "delete", image_delete, "delete an image")).add_argument("image")
