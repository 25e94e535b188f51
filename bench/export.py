"""Export throughput and memory: the streaming endpoint vs raw COPY vs the plan's in-memory build.

On its own throwaway cluster: for 10k, 100k and 1M generated orders, a fresh `haven serve`
(nginx in front of gunicorn, one gthread worker; HAVEN_FRONT=none: gunicorn alone) on a free
loopback port streams GET /api/export?type=orders&format=csv to a `requests` client that discards it; we report rows/s and the worker's peak RSS (VmHWM, so a
fresh server per size). Beside it: (a) the same COPY statement read with psycopg in this process
(the physical limit), (b) the plan's approach — fetch every row, build the whole CSV string — in
a forked child so its peak RSS is its own. Goals: endpoint >= 50% of raw COPY's rows/s, and the
worker's peak RSS growing less than 50 MB from 10k to 1M rows.
"""
from __future__ import annotations

import json
import multiprocessing
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The repo root, not bench/: bench/queue.py would shadow the standard library's queue module.
sys.path[0] = str(ROOT)

import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

import psycopg  # noqa: E402
import requests  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from service.auth import sign_dev_token  # noqa: E402
from service.exports.request import resolve_export_request  # noqa: E402
from service.exports.stream import copy_statement  # noqa: E402
from service.localdb import free_port  # noqa: E402
from service.testing import migrated_template, throwaway_cluster, wait_until_serving  # noqa: E402

SIZES = (10_000, 100_000, 1_000_000)
PLAN_SIZES = (10_000, 100_000, 1_000_000)
SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789"
START, END = "2020-01-01", "2030-01-01"


def vm_hwm_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(p) for p in text)
    return found


def seed(url: str, user_id: str, rows: int) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("truncate public.customer_orders")
        began = time.perf_counter()
        conn.execute(
            "insert into public.customer_orders (user_id, shopify_order_id, customer_email, total, subtotal,"
            " discount_total, item_count, status, created_at)"
            " select %s, g::text, 'buyer' || g || '@example.test', (g %% 500) + 0.99, (g %% 500) + 5.99,"
            " -(g %% 7), 1 + g %% 4, case when g %% 10 = 0 then 'refunded' else 'paid' end,"
            " timestamptz '2025-01-01' + make_interval(secs => g)"
            " from generate_series(1, %s) as g", [user_id, rows])
        elapsed = time.perf_counter() - began
        conn.execute("vacuum analyze public.customer_orders")
    return rows / elapsed


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "SUPABASE_JWT_SECRET": SECRET, "HAVEN_WEB_WORKERS": "1",
           "HAVEN_LOG_LEVEL": "warning", "HAVEN_EXPORT_MAX_RECORDS": str(max(SIZES)), "HAVEN_DB_POOL_MIN": "1",
           "HAVEN_STATE_DIR": "/nonexistent-bench-state"}
    server = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1",
                               "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    wait_until_serving(server, f"http://127.0.0.1:{port}/healthz")
    return server


def endpoint(url: str, token: str, rows: int) -> tuple[float, float]:
    port = free_port()
    server = start_server(url, port)
    try:
        began = time.perf_counter()
        with requests.get(f"http://127.0.0.1:{port}/api/export",
                          params={"type": "orders", "format": "csv", "startDate": START, "endDate": END},
                          headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=300) as response:
            response.raise_for_status()
            assert int(response.headers["X-Record-Count"]) == rows
            lines = 0
            for chunk in response.iter_content(chunk_size=256 * 1024):
                lines += chunk.count(b"\n")
        elapsed = time.perf_counter() - began
        assert lines == rows + 1, (lines, rows)
        workers = children(server.pid)
        peak_mb = max(vm_hwm_kb(pid) for pid in workers) / 1024
    finally:
        server.terminate()
        server.wait(timeout=30)
    return rows / elapsed, peak_mb


def as_user(conn: psycopg.Connection, user_id: str) -> None:
    conn.execute("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true),"
                 " set_config('timezone', 'UTC', true)", [json.dumps({"sub": user_id, "role": "authenticated"})])


def raw_copy(url: str, user_id: str, rows: int) -> float:
    request = resolve_export_request(type="orders", format="csv", fields=None, start_date=START, end_date=END,
                                     limit=None, now=datetime.now(timezone.utc), max_records_override=max(SIZES))
    with psycopg.connect(url) as conn:
        as_user(conn, user_id)
        began = time.perf_counter()
        count = 0
        with conn.cursor() as cursor, cursor.copy(copy_statement(request)) as copy:
            for block in copy:
                count += 1
        elapsed = time.perf_counter() - began
    assert count == rows
    return rows / elapsed


def _plan_child(url: str, user_id: str, rows: int, pipe) -> None:  # type: ignore[no-untyped-def]
    """The plan: select every row, transform, join one string (formatCSVValue, generateCSV)."""
    def cell(value) -> str:  # type: ignore[no-untyped-def]
        if value is None:
            return ""
        text = str(value)
        return '"' + text.replace('"', '""') + '"' if ("," in text or '"' in text or "\n" in text) else text

    keys = ["id", "shopify_order_id", "customer_email", "total", "subtotal", "discount_total", "item_count",
            "status", "created_at"]
    before = vm_hwm_kb(os.getpid())
    began = time.perf_counter()
    with psycopg.connect(url, row_factory=dict_row) as conn:
        as_user(conn, user_id)
        data = conn.execute("select * from public.customer_orders order by created_at desc limit %s",
                            [rows]).fetchall()
    body = "\n".join([",".join(keys), *(",".join(cell(row[k]) for k in keys) for row in data)])
    elapsed = time.perf_counter() - began
    assert body.count("\n") == rows
    pipe.send((rows / elapsed, (vm_hwm_kb(os.getpid()) - before) / 1024))


def plan_approach(url: str, user_id: str, rows: int) -> tuple[float, float]:
    receiver, sender = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=_plan_child, args=(url, user_id, rows, sender))
    child.start()
    result = receiver.recv()
    child.join()
    return result


def main() -> None:
    results: dict[int, dict[str, float]] = {}
    with throwaway_cluster("haven-bench-") as cluster:
        url = migrated_template(cluster, "haven_bench")
        user_id = str(uuid.uuid4())
        with psycopg.connect(url) as conn:
            conn.execute("insert into auth.users (id, aud, role, email) values (%s, 'authenticated',"
                         " 'authenticated', 'bench@example.test')", [user_id])
        token = sign_dev_token(SECRET, user_id, "bench@example.test", lifetime_seconds=3600)
        for rows in SIZES:
            figures = results[rows] = {"seed_rows_per_s": seed(url, user_id, rows)}
            figures["endpoint_rows_per_s"], figures["rss_mb"] = endpoint(url, token, rows)
            figures["copy_rows_per_s"] = raw_copy(url, user_id, rows)
            if rows in PLAN_SIZES:
                figures["plan_rows_per_s"], figures["plan_rss_growth_mb"] = plan_approach(url, user_id, rows)
            print(f"{rows:>9} rows: seed {figures['seed_rows_per_s']:>10.0f} rows/s | endpoint "
                  f"{figures['endpoint_rows_per_s']:>9.0f} rows/s, worker peak RSS {figures['rss_mb']:.1f} MB | "
                  f"raw COPY {figures['copy_rows_per_s']:>9.0f} rows/s | plan "
                  + (f"{figures['plan_rows_per_s']:>8.0f} rows/s, +{figures['plan_rss_growth_mb']:.0f} MB"
                     if "plan_rows_per_s" in figures else "not run"), flush=True)
    big, small = results[max(SIZES)], results[min(SIZES)]
    ratio = big["endpoint_rows_per_s"] / big["copy_rows_per_s"]
    growth = big["rss_mb"] - small["rss_mb"]
    print(f"goal: endpoint >= 50% of raw COPY ({'met' if ratio >= 0.5 else 'MISSED'}: {ratio:.0%}); "
          f"RSS growth 10k->1M < 50 MB ({'met' if growth < 50 else 'MISSED'}: {growth:+.1f} MB)")
    print(f"RESULT rows={max(SIZES)} endpoint_rows_per_s={big['endpoint_rows_per_s']:.0f} "
          f"copy_rows_per_s={big['copy_rows_per_s']:.0f} copy_ratio={ratio:.2f} "
          f"seed_rows_per_s={big['seed_rows_per_s']:.0f} rss_10k_mb={small['rss_mb']:.1f} "
          f"rss_1m_mb={big['rss_mb']:.1f} rss_growth_mb={growth:.1f}")


if __name__ == "__main__":
    main()
