"""A handler family for worker tests run as separate processes (`haven worker --family tests.queue_handlers`).

`test.block` holds its item until the test opens a gate (a file), so a test can kill or stop a
worker mid-item. It is idempotent, as every handler must be: running it twice does no harm.
"""
from __future__ import annotations

import time
from pathlib import Path

from service.config import Settings
from service.queue.registry import Job, Registry

GATE_CHECK_SECONDS = 0.02


def run_block(job: Job) -> None:
    gate = Path(job.payload["gate"])
    gate.with_name(f"{gate.name}.started.{job.id}.{job.attempt}").touch()
    while not gate.exists():  # the handler's own work: wait for the gate (not test synchronisation)
        time.sleep(GATE_CHECK_SECONDS)


def register(registry: Registry, settings: Settings) -> None:
    registry.handler("test.block", run_block)
