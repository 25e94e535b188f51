"""A throwaway cluster is removed when its process is stopped with SIGTERM, as on a normal exit:
a bench or a test run killed by its caller must not leave a Postgres running."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from service.localdb import LocalCluster

ROOT = Path(__file__).resolve().parent.parent
HOLDER = """
import sys
from service.testing import throwaway_cluster
with throwaway_cluster("haven-sigterm-") as cluster:
    print(cluster.data_dir, flush=True)
    sys.stdin.read()  # until the test closes it: it sends SIGTERM first
"""


def test_sigterm_removes_the_cluster_and_stops_its_server() -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        data_dir = Path(holder.stdout.readline().strip())  # type: ignore[union-attr]
        assert data_dir.is_dir()
        cluster = LocalCluster(data_dir.parent, throwaway=True)
        assert cluster.running()
        holder.send_signal(signal.SIGTERM)
        holder.wait(timeout=60)
    finally:
        holder.kill()
        holder.wait()
    assert holder.returncode != 0  # stopped, not finished
    assert not data_dir.parent.parent.exists(), "the cluster's directory is left behind"
    assert not any(_is_postmaster_of(pid, data_dir) for pid in os.listdir("/proc") if pid.isdigit())


def _is_postmaster_of(pid: str, data_dir: Path) -> bool:
    try:
        return str(data_dir) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
