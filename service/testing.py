"""Throwaway clusters and migrated template databases, for pytest, pgTAP and the benches."""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from .localdb import LocalCluster
from .migrate import migrate, recreate_database

TEMPLATE_DB = "haven_template"


@contextmanager
def throwaway_cluster(prefix: str = "haven-test-") -> Iterator[LocalCluster]:
    """A cluster in a fresh temporary directory, bootstrapped as the local stack is (Supabase's
    roles and layer), removed on exit whatever happens."""
    parent = Path(tempfile.mkdtemp(prefix=prefix))
    parent.chmod(0o711)  # the server's OS user (postgres, when we are root) must traverse it
    cluster = LocalCluster(parent / "pg", throwaway=True)
    try:
        cluster.init()
        cluster.start()
        cluster.bootstrap()
        yield cluster
    finally:
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
