"""Short, prefixed, stable resource ids (`i-…`, `d-…`, `img-…`)."""

from __future__ import annotations

import secrets

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str, length: int = 10) -> str:
    return prefix + "-" + "".join(secrets.choice(ALPHABET) for _ in range(length))
