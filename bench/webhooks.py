"""Verified Shopify webhooks accepted per second under the production server, beside a no-op.

Starts a throwaway cluster, a migrated database with one connected shop, and `haven serve`
(nginx in front of gunicorn gthread workers; HAVEN_FRONT=none: gunicorn alone) on a free loopback
port; then drives, in the same run and interleaved over three rounds (medians reported), the no-op
liveness route (GET /livez) and POST /api/webhooks/shopify with wrk. Every webhook is signed
and carries its own X-Shopify-Webhook-Id, so each one is verified, recorded in the inbox and
queued: the full path. Goal: at least 70 % of the no-op rate.
It also prints the CPU each request costs the server and Postgres (their process trees'
CPU time around each run): where the time goes.
Last line: RESULT webhooks_per_s=… noop_per_s=… ratio_vs_noop=…
"""
from __future__ import annotations

import sys
from pathlib import Path

# The repo root, not bench/: bench/queue.py would shadow the standard library's queue module.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid

import psutil
import psycopg
import requests

from service.localdb import free_port
from service.providers.shopify.client import webhook_hmac
from service.testing import migrated_template, throwaway_cluster

SECRET = "bench-shopify-secret"
SHOP = "bench-prints.myshopify.com"
DURATION_S = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
WRK_THREADS = 2
ORDER = {"id": 820982911946154508, "email": "jon@example.com", "created_at": "2026-11-20T10:00:00-05:00",
         "updated_at": "2026-11-20T10:05:00-05:00", "total_price": "45.00", "subtotal_price": "50.00",
         "total_discounts": "5.00", "financial_status": "paid", "line_items": [{"id": 1, "quantity": 2}],
         "customer": {"id": 115310627314723954, "email": "jon@example.com"}}

WRK_WEBHOOK_SCRIPT = """
local counter = 0

local next_thread = 0
function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_no", next_thread)
end
request = function()
  counter = counter + 1
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["X-Shopify-Topic"] = "orders/create"
  headers["X-Shopify-Shop-Domain"] = "%(shop)s"
  headers["X-Shopify-API-Version"] = "2026-10"
  headers["X-Shopify-Hmac-Sha256"] = "%(hmac)s"
  headers["X-Shopify-Webhook-Id"] = "%(run)s-" .. thread_no .. "-" .. counter
  return wrk.format("POST", "/api/webhooks/shopify", headers, %(body)s)
end
done = function(summary, latency, requests)
  io.write(string.format("non2xx=%%d\\n", summary.errors.status))
end
"""


def cpu_seconds(root: psutil.Process) -> float:
    """CPU time of a process tree (the server, or the Postgres cluster), all threads included."""
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:  # a backend that ended between listing and reading
            continue
        total += times.user + times.system
    return total


def measured(url: str, script: Path | None, server: psutil.Process, postgres: psutil.Process) -> dict[str, float]:
    """One wrk run: its rate, and the CPU (µs) each request cost the server and Postgres."""
    server_before, postgres_before = cpu_seconds(server), cpu_seconds(postgres)
    rate, _ = wrk(url, script)
    requests_made = rate * DURATION_S
    return {"rate": rate, "server_us": 1e6 * (cpu_seconds(server) - server_before) / requests_made,
            "postgres_us": 1e6 * (cpu_seconds(postgres) - postgres_before) / requests_made}


def wrk(url: str, script: Path | None) -> tuple[float, str]:
    args = ["wrk", "-t", str(WRK_THREADS), "-c", str(CONNECTIONS), "-d", f"{DURATION_S}s", "--latency"]
    if script is not None:
        args += ["-s", str(script)]
    output = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rate = next(float(line.split()[1]) for line in output.splitlines() if line.startswith("Requests/sec:"))
    if "non2xx=" in output and not output.split("non2xx=")[1].startswith("0"):
        raise SystemExit(f"the webhook run got non-2xx answers:\n{output}")
    if "Non-2xx" in output:
        raise SystemExit(f"non-2xx answers:\n{output}")
    return rate, output


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `make bench` installs it (as root), or apt-get install wrk")
    with throwaway_cluster("haven-bench-") as cluster:
        url = migrated_template(cluster, "bench_webhooks")
        user_id = str(uuid.uuid4())
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("insert into auth.users (id, aud, role, email) values (%s, 'authenticated',"
                         " 'authenticated', 'bench@example.test')", [user_id])
            conn.execute("select public.claim_shopify_shop(%s, %s)", [user_id, SHOP])
            backend_pid = conn.execute("select pg_backend_pid()").fetchone()[0]
        postmaster_pid = psutil.Process(backend_pid).ppid()
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "SHOPIFY_CLIENT_ID": "bench", "SHOPIFY_CLIENT_SECRET": SECRET,
               "HAVEN_LOG_LEVEL": "WARNING", "HAVEN_DB_POOL_MAX": "10"}
        haven = Path(sys.executable).parent / "haven"
        server = subprocess.Popen([str(haven), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if requests.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not come up")
                time.sleep(0.1)  # waiting for a process to listen, not test synchronisation
            body = json.dumps(ORDER).encode()
            with tempfile.TemporaryDirectory() as scratch:
                script = Path(scratch) / "webhook.lua"
                script.write_text(WRK_WEBHOOK_SCRIPT % {
                    "shop": SHOP, "hmac": webhook_hmac(body, SECRET), "run": uuid.uuid4().hex[:8],
                    "body": json.dumps(body.decode())})
                server_usage, postgres_usage = psutil.Process(server.pid), psutil.Process(postmaster_pid)
                wrk(base + "/livez", None)  # warm up
                noop_runs, webhook_runs = [], []
                for _ in range(ROUNDS):  # interleaved, so both see the same machine
                    noop_runs.append(measured(base + "/livez", None, server_usage, postgres_usage))
                    webhook_runs.append(measured(base, script, server_usage, postgres_usage))
            noop, webhook = median_of(noop_runs), median_of(webhook_runs)
            noop_rate, webhook_rate = noop["rate"], webhook["rate"]
            with psycopg.connect(url) as conn:
                recorded = conn.execute("select count(*) from public.shopify_webhook_events").fetchone()[0]
                queued = conn.execute("select count(*) from public.retry_queue"
                                      " where operation_type = 'shopify.process_webhook'").fetchone()[0]
        finally:
            server.terminate()
            server.wait(timeout=30)
    ratio = webhook_rate / noop_rate
    front = os.environ.get("HAVEN_FRONT", "nginx")
    print(f"server: haven serve (front: {front}, gunicorn gthread) on loopback; load: wrk -t{WRK_THREADS} -c{CONNECTIONS} "
          f"-d{DURATION_S}s; cores: {os.cpu_count()}")
    noop_rates = " ".join(f"{run['rate']:.0f}" for run in noop_runs)
    webhook_rates = " ".join(f"{run['rate']:.0f}" for run in webhook_runs)
    print(f"no-op GET /livez:                    {noop_rates} req/s (median {noop_rate:.0f})")
    print(f"verified POST /api/webhooks/shopify: {webhook_rates} req/s "
          f"(median {webhook_rate:.0f}); {recorded} deliveries recorded, {queued} processing items queued")
    for name, run in (("no-op", noop), ("webhook", webhook)):
        print(f"CPU per {name} request (medians): server {run['server_us']:.0f} µs, "
              f"Postgres {run['postgres_us']:.0f} µs")
    print(f"RESULT webhooks_per_s={webhook_rate:.0f} noop_per_s={noop_rate:.0f} ratio_vs_noop={ratio:.2f}")


if __name__ == "__main__":
    main()
