"""`haven serve` as production runs it (gunicorn behind nginx), as a process of its own."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from service.config import PROJECT_ROOT
from service.localdb import free_port

from .queue import wait_until


@dataclass(frozen=True)
class Served:
    base: str
    port: int
    process: subprocess.Popen[bytes]


def _answers(base: str) -> bool:
    try:
        return requests.get(base + "/livez", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@contextmanager
def haven_serve(database_url: str, state_dir: Path, log_path: Path, **env: str) -> Iterator[Served]:
    """Starts `haven serve` on a free loopback port and waits until it answers; stops it after."""
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": database_url, "HAVEN_STATE_DIR": str(state_dir),
                   "HAVEN_WEB_WORKERS": "1", "HAVEN_LOG_LEVEL": "WARNING", **env}
    with log_path.open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
                                   cwd=PROJECT_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(base) or process.poll() is not None, what="haven serve to answer")
        assert process.poll() is None, log_path.read_text()
        yield Served(base, port, process)
    finally:
        process.terminate()
        process.wait(timeout=60)
