"""`haven serve`: gunicorn behind an nginx front, as production runs it.

Why a front: gunicorn's threads read requests and write answers themselves, so a client that
trickles a body, or reads a download a byte a second, holds a thread (and, for an export, a
pooled database connection and an open snapshot) for as long as it likes; a few dozen such
clients starve everyone (gunicorn's own deployment guide asks for a buffering proxy). nginx
reads each request whole before passing it on, and takes each answer whole (spilling large
ones to temporary files) before sending it at the client's pace: a slow client costs a cheap
nginx connection, never a worker thread, a database connection or a snapshot. Deadlines cut
off request heads and bodies that stall (408), and answers a client stops reading.

nginx listens on HAVEN_HOST:HAVEN_PORT and passes requests to gunicorn on a Unix socket in the
state directory (mode 0700: only this user's processes reach it). gunicorn runs threaded
workers (`gthread`); the app sees the client's address and scheme through ProxyFix, since
exactly one proxy, ours, stands in front. With HAVEN_FRONT=none gunicorn listens on the port
itself, for deployments that already put a buffering proxy in front.
"""
from __future__ import annotations

import errno
import grp
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import Settings
from .errors import HavenError

log = logging.getLogger(__name__)
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
# An answer larger than this waits in nginx's temporary file rather than in gunicorn.
NGINX_MAX_TEMP_FILE = "4096m"


class ServeError(HavenError):
    """The server cannot start (the port is taken, nginx is missing or refused its config)."""


def ensure_port_free(host: str, port: int) -> None:
    """Refuses a port something already listens on: two servers sharing one (SO_REUSEPORT) would
    take turns answering, each with its own settings."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT from a stopped server is fine
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ServeError(f"{host}:{port} is already in use (another `haven run` or `haven serve`?):"
                                 " stop it, or choose another port with HAVEN_PORT or --port") from None
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def find_nginx(settings: Settings) -> str:
    if settings.nginx_path:
        return settings.nginx_path
    found = shutil.which("nginx") or next((c for c in NGINX_CANDIDATES if os.access(c, os.X_OK)), None)
    if found is None:
        raise ServeError("nginx is not installed: `make run` installs it (as root; scripts/install-system-deps"
                         " names it otherwise), or set HAVEN_FRONT=none behind a proxy that buffers requests and"
                         " answers")
    return found


class NginxFront:
    """nginx in the foreground as a child of the gunicorn master, configured for one service."""

    def __init__(self, settings: Settings, host: str, port: int, upstream: Path, run_dir: Path) -> None:
        self.settings = settings
        self.host, self.port = host, port
        self.upstream = upstream
        self.run_dir = run_dir
        self.binary = find_nginx(settings)
        self.process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        settings, run = self.settings, self.run_dir
        listen = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        # Workers run as the master's user: as root, nginx would otherwise drop them to `nobody`,
        # who cannot reach the socket or the temporary files.
        user = ""
        if os.geteuid() == 0:
            user = f"user {pwd.getpwuid(0).pw_name} {grp.getgrgid(0).gr_name};"
        max_body = settings.max_request_bytes
        too_large = ('{"error":"request_entity_too_large","message":"the request body is larger than the limit of'
                     f' {max_body} bytes"}}')
        return f"""daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 16384;
pid {run}/nginx.pid;
error_log stderr warn;
{user}
events {{ worker_connections 8192; }}
http {{
  server_tokens off;
  access_log off;
  client_body_temp_path {run}/client-body;
  proxy_temp_path {run}/proxy;
  fastcgi_temp_path {run}/fastcgi;
  uwsgi_temp_path {run}/uwsgi;
  scgi_temp_path {run}/scgi;
  client_header_timeout {settings.client_header_timeout_seconds}s;
  client_body_timeout {settings.client_body_timeout_seconds}s;
  send_timeout {settings.client_send_timeout_seconds}s;
  keepalive_timeout 60s;
  # One byte over the service's own limit: the service answers a body it can still measure.
  client_max_body_size {max_body + 1};
  client_body_buffer_size 256k;
  large_client_header_buffers 4 16k;
  upstream haven {{
    server unix:{self.upstream};
    keepalive 32;
    # Shorter than gunicorn's keep-alive: nginx closes an idle connection first, so it never
    # sends a request down one gunicorn is closing.
    keepalive_timeout 50s;
  }}
  server {{
    listen {listen} backlog=4096;
    location / {{
      proxy_pass http://haven;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Request-Id $request_id;
      proxy_request_buffering on;
      proxy_buffering on;
      proxy_buffers 32 64k;
      proxy_busy_buffers_size 256k;
      proxy_max_temp_file_size {NGINX_MAX_TEMP_FILE};
      proxy_read_timeout 600s;
      proxy_send_timeout 60s;
    }}
    error_page 413 = @too_large;
    error_page 502 504 = @unavailable;
    location @too_large {{
      default_type application/json;
      return 413 '{too_large}';
    }}
    location @unavailable {{
      default_type application/json;
      return 503 '{{"error":"unavailable","message":"the service is not answering; try again shortly"}}';
    }}
  }}
}}
"""

    def start(self) -> None:
        for name in ("client-body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.run_dir / name).mkdir(exist_ok=True)
        path = self.run_dir / "nginx.conf"
        path.write_text(self.config())
        # -e: errors before the config is read go to stderr, not a system log file we may not own.
        self.process = subprocess.Popen([self.binary, "-e", "stderr", "-p", str(self.run_dir), "-c", str(path)],
                                        preexec_fn=_die_with_parent)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGQUIT)  # graceful: answers in flight are finished
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _forget_worker_metrics(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _die_with_parent() -> None:
    """In the child before exec: a master killed outright (SIGKILL) takes nginx with it, so no
    orphan keeps the port. Linux only; elsewhere nginx is stopped by the master's on_exit."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class HavenServer(BaseApplication):  # type: ignore[misc]
    """gunicorn (gthread) behind the nginx front, or alone with HAVEN_FRONT=none."""

    def __init__(self, settings: Settings) -> None:
        host, port = settings.host, settings.port
        if settings.front not in ("nginx", "none"):
            raise ServeError(f"HAVEN_FRONT must be nginx or none, not {settings.front!r}")
        ensure_port_free(host, port)
        self.settings = settings
        self.front: NginxFront | None = None
        if settings.front == "nginx":
            run_dir = settings.state_dir / "run" / f"serve-{port}"
            run_dir.mkdir(parents=True, exist_ok=True)
            run_dir.chmod(0o700)
            socket_path = run_dir / "gunicorn.sock"
            self.front = NginxFront(settings, host, port, socket_path, run_dir)
            bind = f"unix:{socket_path}"
        else:
            bind = f"{host}:{port}"
        self.options: dict[str, Any] = {
            "bind": bind,
            "workers": settings.web_workers,
            "worker_class": "gthread",
            "threads": settings.web_threads,
            "timeout": 60,
            "graceful_timeout": 30,
            # Longer than nginx's upstream keep-alive (see NginxFront).
            "keepalive": 75,
            "loglevel": settings.log_level.lower(),
            "when_ready": self._front_up,
            "on_exit": self._front_down,
            "child_exit": _forget_worker_metrics,
        }
        if self.front is None:
            # Query strings can carry OAuth codes; log the path only.
            self.options.update(accesslog="-", access_log_format='%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms')
        # Counters of every gunicorn worker, summed at /metrics (service/metrics.py), from files
        # that must start empty: a stale file would add a finished run's counts.
        metrics_dir = settings.state_dir / "run" / f"metrics-{port}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from .app import create_app

        app = create_app(self.settings)
        if self.front is not None:
            # Exactly one proxy, ours: trust one hop of X-Forwarded-For and -Proto, no more.
            app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
        return app

    def _front_up(self, arbiter: Any) -> None:
        if self.front is None:
            return
        self.front.start()
        master = os.getpid()

        def watch(front: NginxFront) -> None:
            assert front.process is not None
            code = front.process.wait()
            if code != 0:  # nginx failed (e.g. the port was taken meanwhile): stop serving
                log.error("nginx exited with status %s; stopping", code)
                os.kill(master, signal.SIGTERM)

        threading.Thread(target=watch, args=(self.front,), name="haven-front", daemon=True).start()

    def _front_down(self, arbiter: Any) -> None:
        if self.front is not None:
            self.front.stop()
