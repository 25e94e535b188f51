"""Retry queue benchmark: ours against the fastest Postgres queues, side by side on one cluster.

- enqueue rate (one `queue_for_retry` per transaction);
- drain rate: 10,000 no-op jobs through 1, 2 and 4 worker processes of each system — ours
  (`haven worker`), procrastinate, pgqueuer and graphile-worker — in three rounds, each round
  running every system and process count in turn on the same throwaway cluster, so the noise of a
  shared two-core machine falls on all of them alike; a figure is the median of its three rounds,
  and a system's figure is its best process count;
- claim latency with 10k and 1M pending items (EXPLAIN must show an index scan).

The peers are installed for the bench only: procrastinate and pgqueuer from PyPI (the `bench`
optional dependencies, `make bench` installs them), graphile-worker from npm into
`.bench/graphile-worker-<version>/` (node and npm from Debian: `scripts/install-system-deps
--for-bench`). Each runs with its documented performance settings (see PEERS below and
docs/queue.md). `BENCH_QUEUE_SYSTEMS=ours,graphile` and `BENCH_QUEUE_ROUNDS=1` narrow a run while
developing; the RESULT line then says `nan` for what was not run. Ends with one `RESULT` line.
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
import math
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psutil
import psycopg

from service.config import PROJECT_ROOT  # noqa: E402
from service.localdb import LocalCluster  # noqa: E402
from service.migrate import recreate_database  # noqa: E402
from service.testing import checkpoint, migrated_template, throwaway_cluster  # noqa: E402

ITEMS = 10_000
ENQUEUE_ITEMS = 5_000
WORKER_COUNTS = (1, 2, 4)
ROUNDS = int(os.environ.get("BENCH_QUEUE_ROUNDS", "3"))
SYSTEMS = ("ours", "procrastinate", "pgqueuer", "graphile")
CLAIM_BATCH = 50
CLAIM_SAMPLES = 40
DEADLINE_SECONDS = 180.0

# Ours: `haven worker` with 128 handler threads claiming up to 128 items per round trip (every
# claimed item has a thread waiting for it: no local queue), logging at WARNING like every peer
# here. BENCH_OUR_FLAGS overrides them.
OUR_WORKER_FLAGS = tuple(os.environ.get("BENCH_OUR_FLAGS", "--concurrency 128 --batch 128 --poll-interval 1").split())
# procrastinate 3.10: its worker's concurrency (async tasks per process).
PROCRASTINATE_VERSION = "3.10.0"
PROCRASTINATE_CONCURRENCY = "8"
# pgqueuer 1.6 on asyncpg (its primary driver): jobs fetched 500 per round trip (`--batch-size`).
PGQUEUER_VERSION = "1.6.0"
PGQUEUER_BATCH = "500"
# graphile-worker 0.17.3 (0.18 needs Node >= 22; Debian's is 20): the configuration of its
# performance page (worker.graphile.org/docs/performance): 24 concurrent jobs, a pool of 25,
# a local queue of 500 jobs fetched per round trip, completions and failures batched.
GRAPHILE_VERSION = "0.17.3"
GRAPHILE_PRESET = {"concurrentJobs": 24, "maxPoolSize": 25, "localQueue": {"size": 500},
                   "completeJobBatchDelay": 0, "failJobBatchDelay": 0, "pollInterval": 1000}
BENCH_CACHE = PROJECT_ROOT / ".bench"

PROCRASTINATE_APP = textwrap.dedent("""
    import os
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=os.environ["BENCH_PEER_URL"]))

    @app.task(name="noop")
    def noop():
        return None
""")

PGQUEUER_APP = textwrap.dedent("""
    import logging
    import os
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    import asyncpg
    import uvloop
    from pgqueuer import PgQueuer, run
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.models import Job


    @asynccontextmanager
    async def create_pgqueuer() -> AsyncIterator[PgQueuer]:
        connection = await asyncpg.connect(os.environ["BENCH_PEER_URL"])
        pgq = PgQueuer(AsyncpgDriver(connection))

        @pgq.entrypoint("noop")
        async def noop(job: Job) -> None:
            return None

        try:
            yield pgq
        finally:
            await connection.close()


    if __name__ == "__main__":
        # `pgq run` as a library call (pgqueuer 1.6's CLI cannot parse its own --log-level default
        # under typer 0.29): the same supervisor, on uvloop as the CLI picks it, warnings only.
        logging.basicConfig(level=logging.WARNING)
        uvloop.run(run(create_pgqueuer, batch_size=int(os.environ["BENCH_PGQUEUER_BATCH"])))
""")

GRAPHILE_APP = textwrap.dedent("""
    const { run, runMigrations, Logger } = require(process.env.BENCH_GRAPHILE_MODULE);
    // Warnings and errors only, as every other system here logs.
    const logger = new Logger(() => (level, message) => {
      if (level === "error" || level === "warning") console.error(`${level}: ${message}`);
    });
    const worker = JSON.parse(process.env.BENCH_GRAPHILE_PRESET);
    const preset = { worker: { ...worker, connectionString: process.env.BENCH_PEER_URL } };
    async function main() {
      if (process.argv[2] === "migrate") {
        await runMigrations({ preset, logger });
        return;
      }
      const runner = await run({ preset, logger, taskList: { noop: async () => {} } });
      await runner.promise;
    }
    main().catch((error) => { console.error(error); process.exit(1); });
""")


# Connections of this database (not ours) whose last statement was a LISTEN: a waiting worker.
LISTENING = ("select count(*) from pg_stat_activity where datname = current_database()"
             " and pid <> pg_backend_pid() and query ilike 'listen%'")


@dataclass(frozen=True)
class Peer:
    """How the bench drives one other queue: its schema, its workers, its jobs, its finish line."""

    name: str
    database: str
    install: list[str]  # the command that creates its schema
    start: Callable[[str, Path], subprocess.Popen[bytes]]  # one worker process
    enqueue_sql: str  # one parameter: how many no-op jobs
    done_sql: str  # true when every job is done
    tables: str  # emptied before each run
    ready_sql: str = LISTENING  # how many workers are ready for jobs


@dataclass(frozen=True)
class Drain:
    """One timed drain: jobs per second, and the CPU it cost per job in the database's processes
    and in the workers' (a figure the machine's load bends less than a rate)."""

    per_s: float
    db_us: float
    worker_us: float


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    times = {}
    for pid in pids:
        try:
            used = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        times[pid] = used.user + used.system
    return times


def postgres_pids(cluster: LocalCluster) -> list[int]:
    postmaster = psutil.Process(int((cluster.data_dir / "postmaster.pid").read_text().split()[0]))
    return [postmaster.pid, *(child.pid for child in postmaster.children())]


def used_since(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def timed_drain(cluster: LocalCluster, url: str, workers: list[subprocess.Popen[bytes]],
                enqueue: Callable[[], None], done_sql: str, what: str) -> Drain:
    """Enqueues ITEMS jobs (committed: the workers are told), then waits until they are all done,
    asking every 10 ms on one connection with a query an index answers (it costs every system
    here alike, and little)."""
    with psycopg.connect(url, autocommit=True) as watcher:
        watcher.execute(done_sql)  # connected and planned before the clock starts
        enqueue()
        db_before, workers_before = cpu_seconds(postgres_pids(cluster)), cpu_seconds([w.pid for w in workers])
        started = time.perf_counter()
        wait_for(lambda: watcher.execute(done_sql).fetchone()[0] is True, what)  # type: ignore[index]
        elapsed = time.perf_counter() - started
    db_used = used_since(db_before, cpu_seconds(postgres_pids(cluster)))
    workers_used = used_since(workers_before, cpu_seconds([w.pid for w in workers]))
    return Drain(ITEMS / elapsed, db_used / ITEMS * 1e6, workers_used / ITEMS * 1e6)


def scalar(url: str, sql: str, params: list[object] | None = None) -> object:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
        return row[0] if row else None


def wait_for(condition: Callable[[], bool], what: str, poll: float = 0.01) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(poll)


def listeners(url: str, application_like: str = "%") -> int:
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


def measure_ours(cluster: LocalCluster, url: str, user_id: str, workers: int, log_dir: Path) -> Drain:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("truncate public.retry_queue cascade")
        conn.execute("vacuum analyze public.retry_queue, public.retry_attempts")
    env = {**os.environ, "DATABASE_URL": url, "HAVEN_LOG_LEVEL": "WARNING"}
    processes = [
        subprocess.Popen([sys.executable, "-m", "service.cli", "worker", *OUR_WORKER_FLAGS], cwd=PROJECT_ROOT,
                         env=env, stdout=(log_dir / f"ours-{workers}-{n}.log").open("ab"), stderr=subprocess.STDOUT)
        for n in range(workers)
    ]
    try:
        wait_for(lambda: listeners(url, "haven worker %") == workers, "our workers to listen")

        def enqueue() -> None:
            with psycopg.connect(url) as conn:
                conn.execute("set local role service_role")
                conn.execute("select count(public.queue_for_retry(%s, 'noop', '{}')) from generate_series(1, %s)",
                             [user_id, ITEMS])

        # Both partial indexes (due, processing) answer it.
        drain = timed_drain(cluster, url, processes, enqueue,
                            "select not exists (select from public.retry_queue where status = 'pending')"
                            " and not exists (select from public.retry_queue where status = 'processing')",
                            "our workers to finish")
    finally:
        stop(processes)
    # What we keep that the peers do not: one succeeded attempt per item, in the history.
    attempts = scalar(url, "select count(*) from public.retry_attempts where outcome = 'succeeded'")
    if attempts != ITEMS:
        raise SystemExit(f"bench: expected {ITEMS} successful attempts, found {attempts}")
    return drain


def measure_peer(cluster: LocalCluster, peer: Peer, url: str, workers: int, log_dir: Path) -> Drain:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"truncate {peer.tables}")
        conn.execute("vacuum analyze")
    processes = [peer.start(url, log_dir / f"{peer.name}-{workers}-{n}.log") for n in range(workers)]
    try:
        wait_for(lambda: int(scalar(url, peer.ready_sql) or 0) >= workers, f"{peer.name} workers to listen")

        def enqueue() -> None:
            with psycopg.connect(url) as conn:
                conn.execute(peer.enqueue_sql, [ITEMS])

        drain = timed_drain(cluster, url, processes, enqueue, peer.done_sql, f"{peer.name} to finish")
    finally:
        stop(processes)
    return drain


def missing_bench_packages() -> list[str]:
    return [name for name in ("procrastinate", "pgqueuer", "asyncpg") if importlib.util.find_spec(name) is None]


def graphile_module() -> Path:
    """graphile-worker from npm, into the bench's own cache (never a dependency of the service)."""
    prefix = BENCH_CACHE / f"graphile-worker-{GRAPHILE_VERSION}"
    module = prefix / "node_modules" / "graphile-worker"
    if not (module / "package.json").exists():
        for tool, package in (("node", "nodejs"), ("npm", "npm")):
            if shutil.which(tool) is None:
                raise SystemExit(f"bench: {tool} is missing; install Debian's {package}"
                                 " (scripts/install-system-deps --for-bench)")
        print(f"installing graphile-worker {GRAPHILE_VERSION} into {prefix} (bench only)", flush=True)
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error",
                        f"graphile-worker@{GRAPHILE_VERSION}"], check=True)
    return module


def peer_env(url: str, scratch: Path, graphile: Path) -> dict[str, str]:
    return {**os.environ, "BENCH_PEER_URL": url, "PGDSN": url, "PYTHONPATH": str(scratch),
            "BENCH_PGQUEUER_BATCH": PGQUEUER_BATCH,
            "BENCH_GRAPHILE_MODULE": str(graphile), "BENCH_GRAPHILE_PRESET": json.dumps(GRAPHILE_PRESET)}


def peers(scratch: Path, graphile: Path) -> dict[str, Peer]:
    (scratch / "bench_procrastinate_app.py").write_text(PROCRASTINATE_APP)
    (scratch / "bench_pgqueuer_app.py").write_text(PGQUEUER_APP)
    (scratch / "bench_graphile_app.cjs").write_text(GRAPHILE_APP)
    procrastinate = [sys.executable, "-m", "procrastinate", "--app=bench_procrastinate_app.app",
                     "--log-level=warning"]
    graphile_app = ["node", str(scratch / "bench_graphile_app.cjs")]

    def starter(*command: str) -> Callable[[str, Path], subprocess.Popen[bytes]]:
        def start(url: str, log: Path) -> subprocess.Popen[bytes]:
            return subprocess.Popen(list(command), env=peer_env(url, scratch, graphile), stdout=log.open("ab"),
                                    stderr=subprocess.STDOUT)
        return start

    return {
        "procrastinate": Peer(
            "procrastinate", "procrastinate_bench", [*procrastinate, "schema", "--apply"],
            starter(*procrastinate, "worker", "--concurrency", PROCRASTINATE_CONCURRENCY),
            "insert into procrastinate_jobs (queue_name, task_name, args)"
            " select 'default', 'noop', '{}'::jsonb from generate_series(1, %s)",
            "select not exists (select from procrastinate_jobs where status in ('todo', 'doing'))",
            "procrastinate_jobs cascade"),
        "pgqueuer": Peer(
            "pgqueuer", "pgqueuer_bench", [sys.executable, "-m", "pgqueuer", "install"],
            starter(sys.executable, str(scratch / "bench_pgqueuer_app.py")),
            "insert into pgqueuer (priority, entrypoint, payload, status)"
            " select 0, 'noop', null, 'queued' from generate_series(1, %s)",
            "select not exists (select from pgqueuer)",
            "pgqueuer, pgqueuer_log",
            # One asyncpg connection a worker listens and queries: it has listened once its
            # first dequeue ran.
            "select count(*) from pg_stat_activity where datname = current_database()"
            " and pid <> pg_backend_pid() and query ilike '%pgqueuer%'"),
        "graphile": Peer(
            "graphile", "graphile_bench", [*graphile_app, "migrate"], starter(*graphile_app),
            "select count(graphile_worker.add_job('noop', '{}'::json)) from generate_series(1, %s)",
            "select not exists (select from graphile_worker._private_jobs)",
            "graphile_worker._private_jobs cascade"),
    }


def install_peer(peer: Peer, url: str, scratch: Path, graphile: Path) -> None:
    done = subprocess.run(peer.install, env=peer_env(url, scratch, graphile), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench: installing {peer.name}'s schema failed:\n{done.stdout}{done.stderr}")


def fill_for_claims(cluster: LocalCluster, url: str, user_id: str, pending: int) -> str:
    """`pending` due items, spread over the past so the claim has an order to follow; the scan
    the claim's query plans."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("insert into public.retry_queue (user_id, operation_type, payload, next_retry_at)"
                     " select %s, 'noop', '{}', now() - make_interval(secs => g) from generate_series(1, %s) as g",
                     [user_id, pending])
        conn.execute("vacuum analyze public.retry_queue")
        checkpoint(cluster)  # the load's dirty pages written now, not evicted by the claims timed
        plan = conn.execute(
            "explain (format json) select q.id from public.retry_queue as q where q.status = 'pending'"
            " and q.next_retry_at <= now() and q.attempts < q.max_attempts order by q.next_retry_at"
            f" limit {CLAIM_BATCH} for update skip locked").fetchone()[0]
    return scan_of(plan[0]["Plan"])


def claim_latencies(cluster: LocalCluster, template: str, user_id: str,
                    sizes: dict[str, int]) -> dict[str, tuple[float, str]]:
    """Median ms of one claim of CLAIM_BATCH items (then completed) for each backlog size, each in
    a copy of the template database (with its user); the samples alternate between them so the
    machine's noise falls on all alike."""
    urls, scans, connections = {}, {}, {}
    for name, pending in sizes.items():
        with psycopg.connect(cluster.url(), autocommit=True) as admin:
            admin.execute(f"drop database if exists claims_{name}")
            admin.execute(f"create database claims_{name} template {template}")
        urls[name] = cluster.url(f"claims_{name}")
        scans[name] = fill_for_claims(cluster, urls[name], user_id, pending)
    timings: dict[str, list[float]] = {name: [] for name in sizes}
    try:
        for name, url in urls.items():
            connections[name] = psycopg.connect(url, autocommit=True)
            connections[name].execute("set role service_role")
        for _ in range(CLAIM_SAMPLES):
            for name, conn in connections.items():
                started = time.perf_counter()
                ids = [row[0] for row in conn.execute("select id from public.claim_retry_items('bench', %s)",
                                                      [CLAIM_BATCH])]
                timings[name].append((time.perf_counter() - started) * 1000)
                conn.execute("select public.complete_retry_items('bench', %s)", [ids])
    finally:
        for conn in connections.values():
            conn.close()
    return {name: (statistics.median(timings[name]), scans[name]) for name in sizes}


def scan_of(node: dict) -> str:
    if "Relation Name" in node:
        return f"{node['Node Type']} using {node.get('Index Name', '-')}"
    for child in node.get("Plans", []):
        found = scan_of(child)
        if found:
            return found
    return ""


def chosen_systems() -> list[str]:
    wanted = [name.strip() for name in os.environ.get("BENCH_QUEUE_SYSTEMS", ",".join(SYSTEMS)).split(",")]
    unknown = set(wanted) - set(SYSTEMS)
    if unknown:
        raise SystemExit(f"bench: unknown systems {sorted(unknown)}; choose from {', '.join(SYSTEMS)}")
    return [name for name in SYSTEMS if name in wanted]


def main() -> None:
    # A SIGTERM (make interrupted, a timeout) unwinds like ^C: workers stopped, cluster removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    systems = chosen_systems()
    missing = missing_bench_packages() if {"procrastinate", "pgqueuer"} & set(systems) else []
    if missing:
        raise SystemExit(f"bench: missing {', '.join(missing)}: `make bench` installs them"
                         " (pip install -e '.[bench]')")
    graphile = graphile_module() if "graphile" in systems else Path("/nonexistent")
    with throwaway_cluster("haven-bench-") as cluster, tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        url = migrated_template(cluster, "haven_bench")
        user_id = make_user(url)
        configured = peers(scratch_dir, graphile)
        peer_urls = {}
        for name in systems:
            if name == "ours":
                continue
            peer = configured[name]
            recreate_database(cluster.url(), peer.database)
            peer_urls[name] = cluster.url(peer.database)
            install_peer(peer, peer_urls[name], scratch_dir, graphile)

        enqueue_per_s = measure_enqueue(url, user_id)
        print(f"enqueue: {enqueue_per_s:,.0f} items/s (one queue_for_retry per transaction, one connection)")

        runs: dict[tuple[str, int], list[float]] = {}
        for round_number in range(1, ROUNDS + 1):
            for name in systems:
                for workers in WORKER_COUNTS:
                    if name == "ours":
                        drain = measure_ours(cluster, url, user_id, workers, scratch_dir)
                    else:
                        drain = measure_peer(cluster, configured[name], peer_urls[name], workers, scratch_dir)
                    runs.setdefault((name, workers), []).append(drain.per_s)
                    print(f"round {round_number}: {name}, {workers} process(es): {drain.per_s:,.0f} jobs/s;"
                          f" CPU per job: database {drain.db_us:.0f} us, workers {drain.worker_us:.0f} us",
                          flush=True)

        best: dict[str, float] = {}
        for name in systems:
            medians = {workers: statistics.median(runs[(name, workers)]) for workers in WORKER_COUNTS}
            best[name] = max(medians.values())
            print(f"{name}: median of {ROUNDS} round(s) by process count: "
                  + ", ".join(f"{w}: {m:,.0f}" for w, m in medians.items()) + f" -> best {best[name]:,.0f} jobs/s")

        claims = claim_latencies(cluster, "haven_bench", user_id, {"10k": 10_000, "1m": 1_000_000})
        (claim_10k, scan_10k), (claim_1m, scan_1m) = claims["10k"], claims["1m"]
        print(f"claim of {CLAIM_BATCH} with 10k pending: {claim_10k:.2f} ms ({scan_10k})", flush=True)
        print(f"claim of {CLAIM_BATCH} with 1M pending: {claim_1m:.2f} ms ({scan_1m})", flush=True)
        for scan in (scan_10k, scan_1m):
            if not scan.startswith("Index Scan"):
                raise SystemExit(f"bench: the claim is not an index scan: {scan}")

    def figure(name: str) -> float:
        return best.get(name, math.nan)

    peer_best = max((value for name, value in best.items() if name != "ours"), default=math.nan)
    print(f"RESULT enqueue_per_s={enqueue_per_s:.0f} ours_per_s={figure('ours'):.0f}"
          f" procrastinate_per_s={figure('procrastinate'):.0f} pgqueuer_per_s={figure('pgqueuer'):.0f}"
          f" graphile_per_s={figure('graphile'):.0f} ratio_vs_best_peer={figure('ours') / peer_best:.2f}"
          f" claim_ms_10k={claim_10k:.2f} claim_ms_1m={claim_1m:.2f}")


if __name__ == "__main__":
    main()
