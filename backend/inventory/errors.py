"""Errors the engine raises. Each carries a one-line message fit for a user."""

from __future__ import annotations


class LecsError(Exception):
    """Base of every error lecs shows to a user (one line, no traceback)."""

    exit_code = 1


class ValidationError(LecsError):
    """Bad input: a name, size, path or option that cannot be accepted."""

    exit_code = 2


class NotFoundError(LecsError):
    """A resource named by the user does not exist."""


class ConflictError(LecsError):
    """The resource exists already or is in use."""


class StateError(LecsError):
    """An operation is not allowed in the resource's current state."""


class QemuError(LecsError):
    """QEMU or qemu-img failed; the message carries the tail of its output."""
