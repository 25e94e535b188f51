"""The `haven` command: the local database, migrations, the server, the worker, dev tokens."""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import click
import psycopg

from .auth import sign_dev_token
from .config import PROJECT_ROOT, Settings
from .errors import HavenError
from .localdb import LocalCluster, LocalDbError, ensure_local_user, is_local_url
from .migrate import MigrationError, UnknownHistory, load_seed, migrate, recreate_database

SQL_TESTS_DIR = PROJECT_ROOT / "sql_tests"


def _settings() -> Settings:
    return Settings.from_env()


def _cluster(settings: Settings) -> LocalCluster:
    return LocalCluster(settings.state_dir / "pg")


def _ensure_dev_secret(settings: Settings) -> None:
    if not settings.dev_jwt_secret_file.exists():
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        settings.dev_jwt_secret_file.write_text(secrets.token_urlsafe(48) + "\n")
        settings.dev_jwt_secret_file.chmod(0o600)


def _start_local_cluster(settings: Settings) -> tuple[LocalCluster, bool]:
    """Initialises (once), starts and bootstraps the local cluster; True when it was created now."""
    cluster = _cluster(settings)
    created = cluster.init()
    cluster.start()
    cluster.bootstrap()
    _ensure_dev_secret(settings)
    return cluster, created


def _database_url(settings: Settings, *, start_local: bool = True, bootstrap: bool = False) -> str:
    """`DATABASE_URL`, or the local cluster as `postgres` (started if it is not running; with
    `bootstrap`, its roles and layer brought up to date first, for commands that migrate)."""
    if settings.database_url:
        return settings.database_url
    cluster = _cluster(settings)
    if not cluster.initialised():
        raise click.ClickException("no DATABASE_URL and no local cluster: run `haven db up` first")
    if start_local and not cluster.running():
        cluster.start()
    if bootstrap:
        cluster.bootstrap()
    return cluster.url()


def _migration_failed(exc: MigrationError) -> click.ClickException:
    if isinstance(exc, UnknownHistory):  # nothing was tried
        return click.ClickException(str(exc))
    return click.ClickException(f"migration failed, rolled back: {exc}")


class _Commands(click.Group):
    """Errors the service raises on purpose (a bad setting, a port in use, a failed migration)
    are one line, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except HavenError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Commands)
def main() -> None:
    """Haven Hub core."""


@main.group()
def db() -> None:
    """The database: local cluster, migrations, seed."""


@db.command("up")
def db_up() -> None:
    """Initialise (once) and start the local cluster; print its URL."""
    cluster, created = _start_local_cluster(_settings())
    if created:
        click.echo(f"initialised a local cluster under {cluster.root}", err=True)
    click.echo(cluster.url())


@db.command("down")
def db_down() -> None:
    """Stop the local cluster (its data stays)."""
    cluster = _cluster(_settings())
    try:
        cluster.stop()
    except LocalDbError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("local cluster stopped")


@db.command("status")
def db_status() -> None:
    """Say where the database is and whether it answers."""
    settings = _settings()
    if settings.database_url:
        click.echo("DATABASE_URL is set: the local cluster is not used")
        return
    cluster = _cluster(settings)
    if not cluster.initialised():
        click.echo(f"no local cluster under {cluster.root} (run `haven db up`)")
        sys.exit(1)
    if cluster.running():
        click.echo(f"running: {cluster.url()}")
    else:
        click.echo(f"stopped (data under {cluster.data_dir})")
        sys.exit(3)


@db.command("migrate")
def db_migrate() -> None:
    """Apply every pending migration (as `postgres`; the local cluster's layer is bootstrapped first)."""
    url = _database_url(_settings(), bootstrap=True)
    try:
        applied = migrate(url, report=lambda line: click.echo(line, err=True))
    except MigrationError as exc:
        raise _migration_failed(exc) from None
    click.echo(f"{len(applied)} migration(s) applied" if applied else "database is up to date")


@db.command("reset")
@click.option("--no-seed", is_flag=True, help="Do not load supabase/seed.sql.")
def db_reset(no_seed: bool) -> None:
    """Rebuild the local database from the migrations (local databases only) and seed it."""
    url = _database_url(_settings(), bootstrap=True)
    if not is_local_url(url):
        raise click.ClickException("refusing to reset a database that is not on this machine")
    info = psycopg.conninfo.conninfo_to_dict(url)
    dbname = str(info.get("dbname") or "postgres")
    admin_url = psycopg.conninfo.make_conninfo(url, dbname="template1")
    recreate_database(admin_url, dbname)
    try:
        migrate(url, report=lambda line: click.echo(line, err=True))
    except MigrationError as exc:
        raise _migration_failed(exc) from None
    if not no_seed and load_seed(url):
        click.echo("seeded from supabase/seed.sql", err=True)
    click.echo(f"reset {dbname}")


@db.command("seed")
def db_seed() -> None:
    """Load supabase/seed.sql (it is written to be re-runnable)."""
    url = _database_url(_settings())
    click.echo("seeded" if load_seed(url) else "no supabase/seed.sql")


@db.command("prove")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def db_prove(files: tuple[Path, ...]) -> None:
    """Run the pgTAP tests (sql_tests/) with pg_prove on a throwaway, freshly migrated cluster."""
    from .testing import migrated_template, throwaway_cluster

    if shutil.which("pg_prove") is None:
        raise click.ClickException("pg_prove is not installed (make installs it as root)")
    targets = [str(f) for f in files] or [str(p) for p in sorted(SQL_TESTS_DIR.glob("*.sql"))]
    if not targets:
        raise click.ClickException("no pgTAP files in sql_tests/")
    with throwaway_cluster("haven-prove-") as cluster:
        url = migrated_template(cluster, "haven_prove")
        # pgTAP is not a trusted extension: the superuser installs it, as Supabase's platform does
        # for postgres. The tests themselves run as postgres.
        with psycopg.connect(cluster.admin_url("haven_prove"), autocommit=True) as conn:
            conn.execute("create extension if not exists pgtap with schema extensions")
        with psycopg.connect(url, autocommit=True) as conn:
            for helper in sorted((SQL_TESTS_DIR / "helpers").glob("*.sql")):
                conn.execute(helper.read_text(encoding="utf-8").encode())
        result = subprocess.run(
            ["pg_prove", "--failures", "--comments", "-d", url, *targets],
            env={**os.environ, "PGOPTIONS": "-c search_path=public,extensions"},
        )
    sys.exit(result.returncode)


@main.command("dev-token")
@click.option("--email", required=True, help="The local user's email (created if missing).")
@click.option("--hours", default=24, show_default=True, help="How long the token lives.")
def dev_token(email: str, hours: int) -> None:
    """Print a signed token for a local user (local databases only)."""
    settings = _settings()
    url = _database_url(settings)
    if not is_local_url(url):
        raise click.ClickException("refusing to mint tokens against a database that is not on this machine")
    if not settings.supabase_jwt_secret:
        raise click.ClickException("no SUPABASE_JWT_SECRET (and no local dev secret: run `haven db up`)")
    click.echo(sign_dev_token(settings.supabase_jwt_secret, ensure_local_user(url, email), email,
                              lifetime_seconds=hours * 3600))


@main.command("serve")
@click.option("--host", default=None, help="Interface to bind (HAVEN_HOST).")
@click.option("--port", default=None, type=int, help="Port (HAVEN_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the console and the API: gunicorn behind an nginx front (HAVEN_FRONT)."""
    from dataclasses import replace

    from .server import HavenServer

    settings = _settings()
    # The served address decides APP_URL's and HAVEN_PUBLIC_URL's defaults: OAuth must come back here.
    HavenServer(replace(settings, host=host or settings.host, port=port or settings.port)).run()


@main.command("worker")
@click.option("--concurrency", type=click.IntRange(min=1), default=None,
              help="Handler threads (HAVEN_WORKER_CONCURRENCY).")
@click.option("--batch", type=click.IntRange(min=1), default=None,
              help="Items claimed per round trip (HAVEN_WORKER_BATCH).")
@click.option("--poll-interval", type=click.FloatRange(min=0.01), default=None,
              help="Seconds between polls when no NOTIFY arrives (HAVEN_WORKER_POLL_SECONDS).")
@click.option("--family", "families", multiple=True, metavar="MODULE",
              help="Also load this handler family module (repeatable).")
def worker(concurrency: int | None, batch: int | None, poll_interval: float | None,
           families: tuple[str, ...]) -> None:
    """Drain the retry queue until SIGTERM/SIGINT (then finish in-flight items and exit 0)."""
    import signal
    from dataclasses import replace

    from . import providers
    from .logs import configure_logging
    from .queue.families import build_registry
    from .queue.worker import Worker, WorkerOptions

    settings = _settings()
    configure_logging(settings)
    options = WorkerOptions.from_settings(settings)
    options = replace(options, concurrency=concurrency or options.concurrency, batch=batch or options.batch,
                      poll_seconds=poll_interval or options.poll_seconds)
    catalog = providers.catalog()
    queue_worker = Worker(settings, build_registry(settings, catalog, families), catalog, _database_url(settings),
                          options)

    def on_signal(signum: int, _frame: object) -> None:
        if queue_worker.stopping:
            click.echo("second signal: exiting now; unfinished items will be rescued", err=True)
            os._exit(1)
        click.echo(f"{signal.Signals(signum).name}: finishing in-flight items", err=True)
        queue_worker.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    queue_worker.run()


@main.command("run")
@click.option("--email", default="demo@haven.local", show_default=True, help="User for the printed dev token.")
def run(email: str) -> None:
    """What `make run` does: local database up, migrate, seed on first start, serve, and a worker."""
    from .server import HavenServer, ensure_port_free

    settings = _settings()
    ensure_port_free(settings.host, settings.port)  # before anything starts: a second run changes nothing
    if settings.database_url:
        url = settings.database_url
        created = False
    else:
        cluster, created = _start_local_cluster(settings)
        url = cluster.url()
        settings = _settings()  # now with the dev secret `haven db up` made
    try:
        migrate(url, report=lambda line: click.echo(line, err=True))
    except MigrationError as exc:
        raise _migration_failed(exc) from None
    if created and load_seed(url):
        click.echo("seeded from supabase/seed.sql", err=True)
    base = settings.served_url
    console = f"{base}/console/"
    click.echo(f"Haven Hub console: {console}" + (f"  (sign in as {email})" if is_local_url(url) else ""))
    click.echo(f"API: {base}/api/openapi.json, reference: {base}/console/api, health: {base}/healthz")
    if is_local_url(url) and settings.supabase_jwt_secret:
        token = sign_dev_token(settings.supabase_jwt_secret, ensure_local_user(url, email), email,
                               lifetime_seconds=24 * 3600)
        click.echo(f"dev token for {email} (24 h):\n{token}")
    # The worker beside the server, as its own process: it has its own connections and signals.
    queue_worker = subprocess.Popen([sys.executable, "-m", "service.cli", "worker"],
                                    env={**os.environ, "DATABASE_URL": url})
    try:
        HavenServer(settings).run()
    finally:
        queue_worker.terminate()  # SIGTERM: it finishes its in-flight items, then exits
        queue_worker.wait()


@main.command("export")
@click.option("--type", "export_type", required=True, help="leads, customers, orders, pins, quotes, assets, analytics.")
@click.option("--format", "export_format", default="csv", show_default=True, help="csv or json.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write ('-' for stdout). Written beside as FILE.partial, renamed when complete.")
@click.option("--email", default=None, help="Export as this user (by email).")
@click.option("--user-id", default=None, help="Export as this user (by id).")
@click.option("--fields", default=None, help="Comma-separated field keys (default: the type's defaults).")
@click.option("--start-date", default=None, help="YYYY-MM-DD or ISO date-time (default: defaultDateRange days back).")
@click.option("--end-date", default=None, help="YYYY-MM-DD (whole day included) or ISO date-time.")
@click.option("--limit", default=None, type=int, help="At most this many rows, newest first.")
def export(export_type: str, export_format: str, out: Path, email: str | None, user_id: str | None,
           fields: str | None, start_date: str | None, end_date: str | None, limit: int | None) -> None:
    """Write one user's export to a file, exactly as GET /api/export would stream it to them."""
    from .exports.cli import run_export

    if (email is None) == (user_id is None):
        raise click.UsageError("give exactly one of --email or --user-id")
    run_export(_settings(), _database_url(_settings()), export_type=export_type, export_format=export_format,
               out=out, email=email, user_id=user_id, fields=fields, start_date=start_date, end_date=end_date,
               limit=limit)


if __name__ == "__main__":
    main()
