"""`haven export`: an operator writes one user's export to a file.

It runs as that user (`as_user` with the claims Supabase Auth would issue), not as the service:
RLS then bounds the file to what the user could download themselves, and a wrong id cannot leak
another shop's rows. The export is recorded in that user's export_history like any other.
"""
from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
import psycopg

from ..auth import claims_for
from ..config import Settings
from ..db import Database
from ..errors import ApiError
from .request import resolve_export_request
from .stream import open_export


def _user(url: str, email: str | None, user_id: str | None) -> tuple[str, str | None]:
    with psycopg.connect(url) as conn:
        if email is not None:
            row = conn.execute("select id, email from auth.users where email = %s", [email]).fetchone()
        else:
            try:
                row = conn.execute("select id, email from auth.users where id = %s::uuid", [user_id]).fetchone()
            except psycopg.errors.InvalidTextRepresentation:
                raise click.ClickException(f"not a user id: {user_id!r}") from None
    if row is None:
        raise click.ClickException(f"no such user: {email or user_id}")
    return str(row[0]), row[1]


def run_export(settings: Settings, url: str, *, export_type: str, export_format: str, out: Path,
               email: str | None, user_id: str | None, fields: str | None, start_date: str | None,
               end_date: str | None, limit: int | None) -> None:
    _refuse_unwritable(out)  # before the export begins: a run that cannot be written is not recorded
    uid, user_email = _user(url, email, user_id)
    try:
        request = resolve_export_request(
            type=export_type, format=export_format, fields=fields, start_date=start_date, end_date=end_date,
            limit=limit, now=datetime.now(timezone.utc), max_records_override=settings.export_max_records)
    except ApiError as exc:
        raise click.ClickException(exc.message) from None
    db = Database(url, min_size=1, max_size=2)
    try:
        try:
            stream = open_export(db, claims_for(uid, user_email), uid, request,
                                 statement_timeout_seconds=settings.export_statement_timeout_seconds)
        except ApiError as exc:
            raise click.ClickException(exc.message) from None
        _write(stream, out)
    finally:
        db.close()
    click.echo(f"{stream.expected_rows} row(s) written to {out} (export {stream.history_id})", err=True)


def _refuse_unwritable(out: Path) -> None:
    if str(out) == "-":
        return
    folder = out.parent
    if not folder.is_dir():
        raise click.ClickException(f"no such directory: {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise click.ClickException(f"cannot write in {folder}")
    if out.is_dir():
        raise click.ClickException(f"{out} is a directory: name a file")


def _write(stream: Any, out: Path) -> None:
    to_stdout = str(out) == "-"
    partial = out.with_name(out.name + ".partial")
    target = sys.stdout.buffer if to_stdout else partial.open("wb")
    # Progress counts lines, so a CSV row with an embedded newline advances it twice; it is capped.
    show = sys.stderr.isatty() and not to_stdout
    try:
        with click.progressbar(length=max(stream.expected_rows, 1), label="exporting", file=sys.stderr,
                               hidden=not show) as bar:
            done = 0
            try:
                for chunk in stream:
                    target.write(chunk)
                    lines = min(chunk.count(b"\n"), stream.expected_rows - done)
                    done += lines
                    bar.update(lines)
            finally:
                stream.close()
            bar.update(stream.expected_rows - done)
    except BaseException:
        if not to_stdout:
            target.close()
            partial.unlink(missing_ok=True)
        raise
    if not to_stdout:
        target.flush()
        os.fsync(target.fileno())
        target.close()
        partial.replace(out)
