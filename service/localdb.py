"""The embedded local Postgres cluster: initialise, start, bootstrap, stop, describe.

Postgres refuses to run as root, so when we are root every server command runs as the
`postgres` OS user (`runuser`), on a directory that user owns. As anyone else it runs directly.
The cluster listens on 127.0.0.1 only, on a free port, and asks for passwords generated at
initialisation (kept in 0600 files), so other local users cannot walk in.

The roles are Supabase's: the cluster's superuser is `supabase_admin`, used only to bootstrap
(`LocalCluster.bootstrap`: Supabase's roles and the compatibility layer in `supabase/local/`,
into template1 and every database); migrations, the service and the tests connect as
`postgres`, which, as on Supabase, is not a superuser and cannot alter what `supabase_admin` and
`supabase_auth_admin` own (`url()`; `admin_url()` is the bootstrap's).
"""
from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from .errors import HavenError
from .migrate import LOCAL_LAYER_DIR, apply_local_layer

# The bootstrap superuser, named as on Supabase; nothing but the bootstrap connects as it.
SUPERUSER = "supabase_admin"
# What migrations, the service and the tests connect as: Supabase's `postgres`, not a superuser.
APP_ROLE = "postgres"
SERVER_OS_USER = "postgres"


class LocalDbError(HavenError):
    """The local cluster could not be set up or reached."""


def find_bindir() -> Path:
    """The newest installed server's bin directory (or `PG_BINDIR`), never a hard-coded major."""
    override = os.environ.get("PG_BINDIR")
    candidates = [Path(override)] if override else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise LocalDbError(
        "no PostgreSQL server found (looked in PG_BINDIR, /usr/lib/postgresql/*/bin and PATH); "
        "install it, e.g. `apt-get install postgresql`"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether a listener could take the port now. Connections of a server stopped a moment ago
    linger in TIME_WAIT; they do not stop a new listener (Postgres sets SO_REUSEADDR too), so
    they must not make us move the cluster to another port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass(frozen=True)
class LocalCluster:
    """A cluster kept under `root`: data/, run/ (socket), password, port, log."""

    root: Path
    # Throwaway clusters (tests, benches) trade crash safety for speed; `haven db up` keeps it.
    throwaway: bool = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def password_file(self) -> Path:
        return self.root / "password"

    @property
    def admin_password_file(self) -> Path:
        return self.root / "admin_password"

    @property
    def port_file(self) -> Path:
        return self.root / "port"

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def port(self) -> int:
        try:
            return int(self.port_file.read_text().strip())
        except (OSError, ValueError):
            raise LocalDbError(f"no local cluster under {self.root}: run `haven db up`") from None

    def url(self, dbname: str = "postgres") -> str:
        """As `postgres`: what migrations, the service and the tests use."""
        return self._url(APP_ROLE, self.password_file, dbname)

    def admin_url(self, dbname: str = "postgres") -> str:
        """As the superuser `supabase_admin`: for the bootstrap (and tests of the layer) only."""
        return self._url(SUPERUSER, self.admin_password_file, dbname)

    def _url(self, role: str, password_file: Path, dbname: str) -> str:
        password = quote(password_file.read_text().strip(), safe="")
        return f"postgresql://{role}:{password}@127.0.0.1:{self.port()}/{dbname}"

    def _adopt_supabase_admin(self) -> None:
        """A cluster made before the bootstrap superuser existed (initdb'd as a superuser
        `postgres`): that postgres creates `supabase_admin`, and the layer then demotes it and
        hands auth and vault to their admin roles, keeping every database and secret."""
        password = secrets.token_urlsafe(24)
        with psycopg.connect(self._url(APP_ROLE, self.password_file, "template1"), autocommit=True) as conn:
            exists = conn.execute("select from pg_roles where rolname = %s", [SUPERUSER]).fetchone() is not None
            verb = "alter" if exists else "create"
            conn.execute(sql.SQL(
                "{} role {} with superuser createdb createrole replication bypassrls login password {}"
            ).format(sql.SQL(verb), sql.Identifier(SUPERUSER), sql.Literal(password)))
        self.admin_password_file.write_text(password + "\n")
        self.admin_password_file.chmod(0o600)

    def _server_command(self, args: list[str]) -> list[str]:
        return ["runuser", "-u", SERVER_OS_USER, "--", *args] if self.as_root else args

    def _run(self, args: list[str], what: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self._server_command(args), capture_output=True, text=True)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            raise LocalDbError(f"{what} failed: {detail}")
        return result

    def _prepare_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        self.root.chmod(0o700)
        self.socket_dir.chmod(0o700)
        if self.as_root:
            server = pwd.getpwnam(SERVER_OS_USER)
            for path in (self.root, self.socket_dir):
                os.chown(path, server.pw_uid, server.pw_gid)
            probe = subprocess.run(["runuser", "-u", SERVER_OS_USER, "--", "test", "-w", str(self.root)])
            if probe.returncode != 0:
                raise LocalDbError(
                    f"the {SERVER_OS_USER} OS user cannot reach {self.root} (a parent directory is "
                    "closed to it, e.g. under /root); set HAVEN_STATE_DIR to a path it can reach"
                )

    def init(self) -> bool:
        """Initialises the cluster once; returns True when it was created now."""
        if self.initialised():
            return False
        self._prepare_root()
        admin_password = secrets.token_urlsafe(24)
        pwfile = self.root / "initdb.pw"
        pwfile.write_text(admin_password + "\n")
        pwfile.chmod(0o600)
        if self.as_root:
            server = pwd.getpwnam(SERVER_OS_USER)
            os.chown(pwfile, server.pw_uid, server.pw_gid)
        try:
            self._run([
                str(find_bindir() / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                "--auth-host=scram-sha-256", "--auth-local=trust", f"--pwfile={pwfile}",
                "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions",
            ], "initdb")
        finally:
            pwfile.unlink(missing_ok=True)
        for path, value in ((self.admin_password_file, admin_password),
                            (self.password_file, secrets.token_urlsafe(24))):
            path.write_text(value + "\n")
            path.chmod(0o600)
        self.port_file.write_text(f"{free_port()}\n")
        return True

    def bootstrap(self, layer: Path = LOCAL_LAYER_DIR) -> None:
        """As the superuser: Supabase's roles, `postgres`'s password, and the compatibility layer in
        template1 (so every database made later has it) and in every existing database. Idempotent;
        run at every start, so a changed layer reaches existing databases."""
        if not self.admin_password_file.exists():
            self._adopt_supabase_admin()
        with psycopg.connect(self.admin_url("template1"), autocommit=True) as conn:
            apply_local_layer(conn, layer)
            conn.execute(sql.SQL("alter role {} with login password {}").format(
                sql.Identifier(APP_ROLE), sql.Literal(self.password_file.read_text().strip())))
            databases = [row[0] for row in conn.execute(
                "select datname from pg_database where datallowconn and not datistemplate order by datname")]
        for dbname in databases:
            with psycopg.connect(self.admin_url(dbname), autocommit=True) as conn:
                apply_local_layer(conn, layer)

    def running(self) -> bool:
        if not self.initialised():
            return False
        result = subprocess.run(
            self._server_command([str(find_bindir() / "pg_ctl"), "status", "-D", str(self.data_dir)]),
            capture_output=True, text=True,
        )
        return result.returncode == 0

    def start(self) -> None:
        if self.running():
            return
        port = self.port()
        if not port_is_free(port):
            port = free_port()
            self.port_file.write_text(f"{port}\n")
        options = f"-p {port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c unix_socket_permissions=0700"
        if self.throwaway:
            options += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        self._run([
            str(find_bindir() / "pg_ctl"), "start", "-D", str(self.data_dir), "-w", "-t", "60",
            "-l", str(self.log_file), "-o", options,
        ], "pg_ctl start")

    def stop(self) -> None:
        if self.running():
            self._run([str(find_bindir() / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w"],
                      "pg_ctl stop")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def is_local_url(url: str) -> bool:
    """True when a URL points at this machine's loopback (the only place `db reset` may wipe)."""
    hosts = (conninfo_to_dict(url).get("host") or "localhost").split(",")
    return all(host in {"127.0.0.1", "localhost", "::1"} or host.startswith("/") for host in hosts)


def ensure_local_user(url: str, email: str) -> str:
    """The id of the local user with this email, created as Supabase Auth would if missing.

    For local databases only (`haven dev-token`, the console's local sign-in): callers check
    `is_local_url` first. It connects as the URL's own role, `postgres`, which may write
    auth.users (though not alter it) locally as on Supabase; API roles may not."""
    with psycopg.connect(url) as conn:
        row = conn.execute("select id from auth.users where lower(email) = lower(%s)", [email]).fetchone()
        if row:
            return str(row[0])
        user_id = str(uuid.uuid4())
        conn.execute(
            "insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data)"
            " values (%s, 'authenticated', 'authenticated', %s, '{\"provider\":\"email\"}', '{}')",
            [user_id, email],
        )
        return user_id
