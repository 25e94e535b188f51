"""The embedded local Postgres cluster: initialise, start, stop, describe.

Postgres refuses to run as root, so when we are root every server command runs as the
`postgres` OS user (`runuser`), on a directory that user owns. As anyone else it runs directly.
The cluster listens on 127.0.0.1 only, on a free port, and asks for a password generated at
initialisation (kept in a 0600 file), so other local users cannot walk in.
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
from psycopg.conninfo import conninfo_to_dict

from .errors import HavenError

SUPERUSER = "postgres"
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
        password = quote(self.password_file.read_text().strip(), safe="")
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port()}/{dbname}"

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
        password = secrets.token_urlsafe(24)
        pwfile = self.root / "initdb.pw"
        pwfile.write_text(password + "\n")
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
        self.password_file.write_text(password + "\n")
        self.password_file.chmod(0o600)
        self.port_file.write_text(f"{free_port()}\n")
        return True

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
    `is_local_url` first. It connects as the URL's own role, since only an owner may write
    auth.users, as on Supabase only Auth itself does."""
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
