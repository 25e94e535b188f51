"""Retry queue benchmark: enqueue rate, claim+complete throughput through the real `haven worker`
(1, 2 and 4 processes, 10,000 no-op items) against procrastinate on the same Postgres, and claim
latency with 10k and 1M pending items (EXPLAIN must show an index scan).

Runs on its own throwaway cluster. procrastinate is installed into this environment only when
the bench runs (it is not a dependency of the service). Ends with one `RESULT` line.
"""
from __future__ import annotations

import sys
from pathlib import Path

# This file is bench/queue.py: its directory must not shadow the standard library's `queue`.
_BENCH_DIR = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _BENCH_DIR]
sys.path.insert(0, str(_BENCH_DIR.parent))

import importlib.util  # noqa: E402
import json
import os
import signal
import statistics
import subprocess
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable

import psycopg

from service.config import PROJECT_ROOT  # noqa: E402
from service.migrate import recreate_database  # noqa: E402
from service.testing import migrated_template, throwaway_cluster  # noqa: E402

ITEMS = 10_000
ENQUEUE_ITEMS = 5_000
WORKER_COUNTS = (1, 2, 4)
OUR_WORKER_FLAGS = ("--concurrency", "32", "--batch", "32", "--poll-interval", "1")
PROCRASTINATE_CONCURRENCY = "8"
CLAIM_BATCH = 50
CLAIM_SAMPLES = 40
DEADLINE_SECONDS = 120.0

PROCRASTINATE_APP = textwrap.dedent("""
    import os
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=os.environ["BENCH_PROCRASTINATE_URL"]))

    @app.task(name="noop")
    def noop():
        return None
""")


def scalar(url: str, sql: str, params: list[object] | None = None) -> object:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
        return row[0] if row else None


def wait_for(condition: Callable[[], bool], what: str, poll: float = 0.02) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(poll)


def listeners(url: str, application_like: str) -> int:
    return int(scalar(url, "select count(*) from pg_stat_activity where datname = current_database()"
                           " and application_name like %s and query ilike 'listen%%'", [application_like]) or 0)


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def make_user(url: str) -> str:
    user_id = str(uuid.uuid4())
    with psycopg.connect(url) as conn:
        conn.execute("insert into auth.users (id, aud, role, email) values (%s, 'authenticated', 'authenticated',"
                     " 'bench@example.test')", [user_id])
    return user_id


def measure_enqueue(url: str, user_id: str) -> float:
    """Producers enqueue one item per transaction, as a failing request would."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set role service_role")
        started = time.perf_counter()
        for n in range(ENQUEUE_ITEMS):
            conn.execute("select public.queue_for_retry(%s, 'noop', %s::jsonb)", [user_id, json.dumps({"n": n})])
        elapsed = time.perf_counter() - started
        conn.execute("reset role")
        conn.execute("truncate public.retry_queue cascade")
    return ENQUEUE_ITEMS / elapsed


def measure_ours(url: str, user_id: str, workers: int, log_dir: Path) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("truncate public.retry_queue cascade")
    env = {**os.environ, "DATABASE_URL": url, "HAVEN_LOG_LEVEL": "WARNING"}
    processes = [
        subprocess.Popen([sys.executable, "-m", "service.cli", "worker", *OUR_WORKER_FLAGS], cwd=PROJECT_ROOT,
                         env=env, stdout=(log_dir / f"ours-{workers}-{n}.log").open("wb"), stderr=subprocess.STDOUT)
        for n in range(workers)
    ]
    try:
        wait_for(lambda: listeners(url, "haven worker %") == workers, "our workers to listen")
        with psycopg.connect(url) as conn:
            conn.execute("set local role service_role")
            conn.execute("select count(public.queue_for_retry(%s, 'noop', '{}')) from generate_series(1, %s)",
                         [user_id, ITEMS])
            conn.execute("reset role")
            conn.execute("analyze public.retry_queue")
        started = time.perf_counter()  # committed: the NOTIFY is out
        wait_for(lambda: scalar(url, "select count(*) from public.retry_queue where status = 'resolved'") == ITEMS,
                 "our workers to finish")
        elapsed = time.perf_counter() - started
    finally:
        stop(processes)
    attempts = scalar(url, "select count(*) from public.retry_attempts where outcome = 'succeeded'")
    if attempts != ITEMS:
        raise SystemExit(f"bench: expected {ITEMS} successful attempts, found {attempts}")
    return ITEMS / elapsed


def ensure_procrastinate() -> None:
    if importlib.util.find_spec("procrastinate") is None:
        print("installing procrastinate into this environment (bench only)", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "procrastinate"], check=True)


def measure_procrastinate(cluster_url: str, admin_url: str, workers: int, app_dir: Path, log_dir: Path) -> float:
    recreate_database(admin_url, "procrastinate_bench")
    url = cluster_url
    env = {**os.environ, "BENCH_PROCRASTINATE_URL": url, "PYTHONPATH": str(app_dir)}
    # Warnings only: its per-job INFO lines would slow it down, and ours log at WARNING too.
    command = [sys.executable, "-m", "procrastinate", "--app=bench_procrastinate_app.app", "--log-level=warning"]
    applied = subprocess.run([*command, "schema", "--apply"], env=env, capture_output=True, text=True)
    if applied.returncode != 0:
        raise SystemExit(f"bench: procrastinate schema --apply failed:\n{applied.stdout}{applied.stderr}")
    processes = [
        subprocess.Popen([*command, "worker", "--concurrency", PROCRASTINATE_CONCURRENCY], env=env,
                         stdout=(log_dir / f"procrastinate-{workers}-{n}.log").open("wb"), stderr=subprocess.STDOUT)
        for n in range(workers)
    ]
    try:
        wait_for(lambda: listeners(url, "%") >= workers, "procrastinate workers to listen")
        with psycopg.connect(url) as conn:
            conn.execute("insert into procrastinate_jobs (queue_name, task_name, args)"
                         " select 'default', 'noop', '{}'::jsonb from generate_series(1, %s)", [ITEMS])
            conn.execute("analyze procrastinate_jobs")  # fresh statistics, as for ours
        started = time.perf_counter()
        wait_for(lambda: scalar(url, "select count(*) from procrastinate_jobs where status = 'succeeded'") == ITEMS,
                 "procrastinate to finish", poll=0.05)
        elapsed = time.perf_counter() - started
    finally:
        stop(processes)
    return ITEMS / elapsed


def claim_latency(url: str, user_id: str, pending: int) -> tuple[float, str]:
    """Median ms for one claim of CLAIM_BATCH items with `pending` items waiting; and the plan's scan."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("truncate public.retry_queue cascade")
        # Spread over the past so the claim has an order to follow.
        conn.execute("insert into public.retry_queue (user_id, operation_type, payload, next_retry_at)"
                     " select %s, 'noop', '{}', now() - make_interval(secs => g) from generate_series(1, %s) as g",
                     [user_id, pending])
        conn.execute("vacuum analyze public.retry_queue")
        plan = conn.execute(
            "explain (format json) select q.id from public.retry_queue as q where q.status = 'pending'"
            " and q.next_retry_at <= now() and q.attempts < q.max_attempts order by q.next_retry_at"
            f" limit {CLAIM_BATCH} for update skip locked").fetchone()[0]
        conn.execute("set role service_role")
        timings = []
        for _ in range(CLAIM_SAMPLES):
            started = time.perf_counter()
            ids = [row[0] for row in conn.execute("select id from public.claim_retry_items('bench', %s)",
                                                  [CLAIM_BATCH])]
            timings.append((time.perf_counter() - started) * 1000)
            conn.execute("select public.complete_retry_items('bench', %s)", [ids])
        conn.execute("reset role")
    return statistics.median(timings), scan_of(plan[0]["Plan"])


def scan_of(node: dict) -> str:
    if "Relation Name" in node:
        return f"{node['Node Type']} using {node.get('Index Name', '-')}"
    for child in node.get("Plans", []):
        found = scan_of(child)
        if found:
            return found
    return ""


def main() -> None:
    ensure_procrastinate()
    with throwaway_cluster("haven-bench-") as cluster, tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        (scratch_dir / "bench_procrastinate_app.py").write_text(PROCRASTINATE_APP)
        url = migrated_template(cluster, "haven_bench")
        user_id = make_user(url)

        enqueue_per_s = measure_enqueue(url, user_id)
        print(f"enqueue: {enqueue_per_s:,.0f} items/s (one queue_for_retry per transaction, one connection)")

        ours = {}
        for workers in WORKER_COUNTS:
            ours[workers] = measure_ours(url, user_id, workers, scratch_dir)
            print(f"ours, {workers} worker process(es): {ours[workers]:,.0f} items/s ({ITEMS:,} no-op items)",
                  flush=True)

        theirs = {}
        procrastinate_url = cluster.url("procrastinate_bench")
        for workers in WORKER_COUNTS:
            theirs[workers] = measure_procrastinate(procrastinate_url, cluster.url(), workers, scratch_dir,
                                                    scratch_dir)
            print(f"procrastinate, {workers} worker process(es): {theirs[workers]:,.0f} jobs/s", flush=True)

        claim_10k, scan_10k = claim_latency(url, user_id, 10_000)
        print(f"claim of {CLAIM_BATCH} with 10k pending: {claim_10k:.2f} ms ({scan_10k})", flush=True)
        claim_1m, scan_1m = claim_latency(url, user_id, 1_000_000)
        print(f"claim of {CLAIM_BATCH} with 1M pending: {claim_1m:.2f} ms ({scan_1m})", flush=True)
        for scan in (scan_10k, scan_1m):
            if not scan.startswith("Index Scan"):
                raise SystemExit(f"bench: the claim is not an index scan: {scan}")

    ours_best = max(ours.values())
    theirs_best = max(theirs.values())
    print(f"RESULT enqueue_per_s={enqueue_per_s:.0f} ours_per_s={ours_best:.0f} procrastinate_per_s={theirs_best:.0f}"
          f" ratio_vs_procrastinate={ours_best / theirs_best:.2f} claim_ms_10k={claim_10k:.2f}"
          f" claim_ms_1m={claim_1m:.2f}")


if __name__ == "__main__":
    main()
