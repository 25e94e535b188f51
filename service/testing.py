"""Throwaway clusters and migrated template databases, for pytest, pgTAP and the benches."""
from __future__ import annotations

import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import requests

from .localdb import LocalCluster
from .migrate import migrate, recreate_database

TEMPLATE_DB = "haven_template"


@contextmanager
def _terminate_unwinds() -> Iterator[Callable[[], None]]:
    """While it lasts, SIGTERM unwinds the main thread as Ctrl-C does, so cleanups run: a bench or
    a test run stopped with `kill` used to leave its throwaway Postgres running. Only where the
    signal is not handled already, and only in the main thread (where Python runs handlers).
    Yields `shield`, which makes further SIGTERMs wait until the end (a caller that sends several
    must not interrupt the cleanup the first one started)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield lambda: None
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    def shield() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield shield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def throwaway_cluster(prefix: str = "haven-test-") -> Iterator[LocalCluster]:
    """A cluster in a fresh temporary directory, bootstrapped as the local stack is (Supabase's
    roles and layer), removed on exit whatever happens, SIGTERM included."""
    with _terminate_unwinds() as shield:
        parent = Path(tempfile.mkdtemp(prefix=prefix))
        parent.chmod(0o711)  # the server's OS user (postgres, when we are root) must traverse it
        cluster = LocalCluster(parent / "pg", throwaway=True)
        try:
            cluster.init()
            cluster.start()
            cluster.bootstrap()
            yield cluster
        finally:
            shield()
            cluster.destroy()
            parent.rmdir()


def migrated_template(cluster: LocalCluster, name: str = TEMPLATE_DB) -> str:
    """Creates `name` (as `postgres`, from template1, which carries the layer), migrates it as
    `postgres`, and returns its URL; clone it for each test."""
    recreate_database(cluster.url(), name)
    url = cluster.url(name)
    migrate(url)
    return url


def checkpoint(cluster: LocalCluster) -> None:
    """CHECKPOINT, as the cluster's admin: it needs a superuser (or pg_checkpoint), which `postgres`
    is not, locally as on Supabase. Benches flush a load's dirty pages before they time anything."""
    with psycopg.connect(cluster.admin_url(), autocommit=True) as conn:
        conn.execute("checkpoint")


def wait_until_serving(server: subprocess.Popen[bytes], url: str, timeout_seconds: float = 30.0) -> None:
    """Waits until a server the benches started answers `url` with 200; raises if it exits first or
    stays silent past the deadline. A server too busy starting to answer in time is still starting."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or too busy starting to answer
            pass
        if server.poll() is not None:
            raise RuntimeError("the server exited before it answered")
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not come up")
        time.sleep(0.1)  # polling a process that has no readiness signal, with a deadline
