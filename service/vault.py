"""Credentials in Supabase Vault, through the SQL functions only.

`store_credential`, `get_credential` and `delete_credentials` are executable by `service_role`
alone, so these calls belong in `db.as_service()` transactions. Storing again replaces the
value in place; deleting an integration or a user deletes its secrets (SQL triggers).
"""
from __future__ import annotations

from typing import Any

import psycopg


def store_credential(conn: psycopg.Connection[Any], user_id: str, provider: str,
                     credential_type: str, value: str) -> None:
    conn.execute("select public.store_credential(%s, %s, %s, %s)",
                 [user_id, provider, credential_type, value])


def get_credential(conn: psycopg.Connection[Any], user_id: str, provider: str,
                   credential_type: str) -> str | None:
    row = conn.execute("select public.get_credential(%s, %s, %s) as value",
                       [user_id, provider, credential_type]).fetchone()
    return None if row is None else row["value"]


def delete_credentials(conn: psycopg.Connection[Any], user_id: str, provider: str) -> None:
    conn.execute("select public.delete_credentials(%s, %s)", [user_id, provider])
