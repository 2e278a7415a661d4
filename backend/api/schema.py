"""The API's own tables (schema step 9): the signature nonces seen in the last 15 minutes and
the ClientTokens' first answers. Access keys are backend/ram's."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def step9(db: sqlite_utils.Database) -> None:
    db.execute("""CREATE TABLE api_nonces (
        key_id TEXT NOT NULL,
        nonce TEXT NOT NULL,
        time REAL NOT NULL,
        PRIMARY KEY (key_id, nonce)
    )""")
    db.execute("CREATE INDEX api_nonces_time ON api_nonces (time)")
    db.execute("""CREATE TABLE api_tokens (
        key_id TEXT NOT NULL,
        action TEXT NOT NULL,
        token TEXT NOT NULL,
        digest TEXT NOT NULL,
        body TEXT NOT NULL,
        time REAL NOT NULL,
        PRIMARY KEY (key_id, action, token)
    )""")
