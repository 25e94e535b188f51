"""GET /metrics in Prometheus' text format, answered only to the bearer HAVEN_METRICS_TOKEN
(unset: /metrics is off, a 404).

Most figures are read from the database when scraped (`ops.metrics()`: one statement), so every
process and every worker agrees on them. Events the database never sees, webhook deliveries
refused at the door for instance, are counters in the process that saw them; under `haven
serve` the gunicorn workers share them through prometheus_client's multiprocess files
(PROMETHEUS_MULTIPROC_DIR, set by service/server.py).
"""
from __future__ import annotations

import hmac
import os
from collections.abc import Iterator, Sequence
from typing import Any

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from .api import endpoint
from .context import services
from .db import Database
from .errors import NotFound, Unauthorized

bp = Blueprint("metrics", __name__)
COUNTERS = "haven.counters"
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

# What each metric of ops.metrics() means, for its HELP line.
DATABASE_METRICS = {
    "haven_queue_items": "Retry queue items by operation and status.",
    "haven_queue_oldest_due_seconds": "How long the oldest due pending item has waited for a worker.",
    "haven_queue_attempts": "Recorded attempts by operation and outcome (kept as long as their items).",
    "haven_webhook_deliveries": "Stored Shopify deliveries by status.",
    "haven_webhook_inbox_lag_seconds": "Age of the oldest stored delivery not yet processed.",
    "haven_tokens_expiring_within_a_day": "Connected integrations whose token expires within a day.",
    "haven_worker_heartbeat_age_seconds": "Seconds since each running worker's last heartbeat.",
    "haven_periodic_job_last_run_age_seconds": "Seconds since each periodic job last started.",
    "haven_exports_last_day": "Exports begun in the last day by type and status.",
    "haven_export_rows_last_day": "Rows of the completed exports of the last day, by type.",
    "haven_export_seconds_last_day": "Durations of the completed exports of the last day (quantiles).",
}


class DatabaseCollector(Collector):
    """The figures every process agrees on, read at scrape time as service_role."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        with self.db.as_service() as conn:
            rows = conn.execute("select metric, labels, value from ops.metrics()").fetchall()
        families: dict[str, GaugeMetricFamily] = {}
        for row in rows:
            labels: dict[str, str] = row["labels"]
            family = families.get(row["metric"])
            if family is None:
                family = families[row["metric"]] = GaugeMetricFamily(
                    row["metric"], DATABASE_METRICS.get(row["metric"], row["metric"]), labels=sorted(labels))
            family.add_metric([labels[name] for name in sorted(labels)], row["value"])
        yield from families.values()


def counter(name: str, documentation: str, labels: Sequence[str]) -> Counter:
    """This app's counter `name`, made on first use (no module-level state)."""
    counters: dict[str, Counter] = current_app.extensions.setdefault(COUNTERS, {})
    found = counters.get(name)
    if found is None:
        # In multiprocess mode the files are the registry; otherwise this app's own registry.
        registry = None if os.environ.get(MULTIPROCESS_DIR) else _app_registry()
        found = counters[name] = Counter(name, documentation, list(labels), registry=registry)
    return found


def _app_registry() -> CollectorRegistry:
    registry: CollectorRegistry = current_app.extensions.setdefault("haven.counter_registry", CollectorRegistry())
    return registry


def _authorised() -> None:
    token = services().settings.metrics_token
    if not token:
        raise NotFound("metrics are off: set HAVEN_METRICS_TOKEN", code="not_found")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("/metrics needs `Authorization: Bearer <HAVEN_METRICS_TOKEN>`", code="invalid_token")


@bp.get("/metrics")
@endpoint("Prometheus metrics: the queue, webhooks, tokens, workers, periodic jobs, exports", auth=False,
          produces=("text/plain",), errors=(401, 404), tags=("system",),
          description="Answered only to `Authorization: Bearer <HAVEN_METRICS_TOKEN>`; 404 while the token is "
                      "unset.")
def metrics() -> Any:
    _authorised()
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(services().db))
    if os.environ.get(MULTIPROCESS_DIR):
        MultiProcessCollector(registry)
    else:
        registry.register(_app_registry())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
