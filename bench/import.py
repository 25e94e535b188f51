"""Shopify import throughput and memory: the importer vs raw COPY of the same rows.

On its own throwaway cluster: a shop of N orders (1-3 line items each, five orders per customer)
is written once as a Bulk Operation JSONL file (children after every parent, as Shopify may send
them) and served by the fake Shopify of tests/fakes/shopify.py on loopback. The bench starts a
bulk operation through the real client, lets the fake finish it, and runs the importer's load
(service/providers/shopify/imports.py `load`: the streamed download, the parse, COPY into the
staging table, the set-based upserts, the bookkeeping) in a forked child, so its peak RSS (VmHWM) is its
own. Rows per second count the rows the import leaves in `customer_orders` and `customers`.
Beside it, the physical limit: the same rows (dumped from the import's result with COPY TO)
COPYed into the same, emptied tables; the largest size in three rounds, medians taken. Goals:
import >= 50% of raw COPY's rows/s at 1M orders, and the importer's peak RSS growing less than
50 MB from 10k to 1M orders.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The repo root, not bench/: bench/queue.py would shadow the standard library's queue module.
sys.path[0] = str(ROOT)

import json  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import psycopg  # noqa: E402

from service.db import Database  # noqa: E402
from service.providers.shopify.client import BULK_QUERIES, ShopifyClient  # noqa: E402
from service.providers.shopify.imports import load  # noqa: E402
from service.localdb import LocalCluster  # noqa: E402
from service.testing import checkpoint, migrated_template, throwaway_cluster  # noqa: E402
from tests.fakes.server import serve  # noqa: E402
from tests.fakes.shopify import FakeShopify  # noqa: E402

SIZES = (10_000, 1_000_000)
ROUNDS = 3
SHOP = "bench-shop.myshopify.com"
ORDERS_PER_CUSTOMER = 5
CHUNK = 1 << 18


def vm_hwm_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def write_jsonl(path: Path, orders: int) -> int:
    """The orders bulk query's JSONL for `orders` orders; returns its line count."""
    lines = 0
    customers = max(1, orders // ORDERS_PER_CUSTOMER)
    with path.open("wb") as out:
        for n in range(orders):
            c = n % customers
            out.write(json.dumps({
                "id": f"gid://shopify/Order/{1_000_000 + n}", "email": f"buyer{c}@example.test",
                "createdAt": f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}T10:00:00Z", "updatedAt": "2026-11-01T00:00:00Z",
                "cancelledAt": None, "displayFinancialStatus": "REFUNDED" if n % 10 == 0 else "PAID",
                "sourceName": "web", "discountCodes": ["SPRING5"] if n % 7 == 0 else [],
                "totalPriceSet": {"shopMoney": {"amount": f"{n % 500}.99"}},
                "subtotalPriceSet": {"shopMoney": {"amount": f"{n % 500 + 5}.99"}},
                "totalDiscountsSet": {"shopMoney": {"amount": "5.00"}},
                "customerJourneySummary": {"firstVisit": {"landingPage": "https://shop.test/?utm_source=pinterest"}}
                if n % 3 == 0 else None,
                "customer": {"id": f"gid://shopify/Customer/{5_000_000 + c}",
                             "defaultEmailAddress": {"emailAddress": f"buyer{c}@example.test"}},
            }).encode() + b"\n")
            lines += 1
        # Children after every parent: the importer may not rely on adjacency.
        for n in range(orders):
            for i in range(1 + n % 3):
                out.write(json.dumps({"id": f"gid://shopify/LineItem/{(1_000_000 + n) * 10 + i}", "quantity": 1 + i,
                                      "__parentId": f"gid://shopify/Order/{1_000_000 + n}"}).encode() + b"\n")
                lines += 1
    return lines


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            yield chunk


def prepare(url: str, user_id: str) -> tuple[str, str]:
    """Empty domain tables, a connected shop and a running import; the import's id."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("truncate public.customer_orders, public.customers, public.shopify_imports cascade")
        import_id = conn.execute("insert into public.shopify_imports (user_id, shop_domain) values (%s, %s)"
                                 " returning id::text", [user_id, SHOP]).fetchone()[0]
    return import_id, SHOP


def _import_child(url: str, base: str, user_id: str, operation_id: str, gid: str, pipe) -> None:  # type: ignore[no-untyped-def]
    db = Database(url, min_size=1, max_size=2)
    shopify = ShopifyClient(client_id="bench", client_secret="bench", api_version="2026-10",
                            base_url_template=base + "/shops/{shop}", timeout=60)
    access = os.environ["HAVEN_BENCH_SHOPIFY_TOKEN"]
    before = vm_hwm_kb(os.getpid())
    began = time.perf_counter()
    operation = shopify.bulk_operation(SHOP, access, gid)
    assert operation.status == "COMPLETED" and operation.url, operation
    load(db, shopify, user_id, operation_id, SHOP, "orders", operation)
    elapsed = time.perf_counter() - began
    db.close()
    pipe.send((elapsed, vm_hwm_kb(os.getpid()) / 1024, before / 1024))


def run_import(cluster: LocalCluster, url: str, fake: FakeShopify, base: str, user_id: str, path: Path) -> tuple[float, float, int]:
    """One import of the file: seconds, the child's peak RSS (MB), rows in the two tables."""
    import_id, shop = prepare(url, user_id)
    fake.shops[SHOP].bulk_sources["orders"] = lambda: file_chunks(path)
    shopify = ShopifyClient(client_id=fake.client_id, client_secret=fake.client_secret, api_version="2026-10",
                            base_url_template=base + "/shops/{shop}", timeout=60)
    access = os.environ["HAVEN_BENCH_SHOPIFY_TOKEN"]
    operation = shopify.run_bulk_query(shop, access, BULK_QUERIES["orders"])
    fake.finish_bulk_operations(shop)  # the finish webhook is not needed here: the child reads node(id:)
    with psycopg.connect(url, autocommit=True) as conn:
        operation_id = conn.execute(
            "insert into public.shopify_bulk_operations (user_id, import_id, kind, shopify_bulk_operation_id, status)"
            " values (%s, %s, 'orders', %s, 'completed') returning id::text", [user_id, import_id, operation.id]
        ).fetchone()[0]
    checkpoint(cluster)
    receiver, sender = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=_import_child, args=(url, base, user_id, operation_id, operation.id, sender))
    child.start()
    elapsed, peak_mb, _ = receiver.recv()
    child.join()
    assert child.exitcode == 0
    with psycopg.connect(url, autocommit=True) as conn:
        status = conn.execute("select status, rows_written from public.shopify_bulk_operations where id = %s",
                              [operation_id]).fetchone()
        assert status[0] == "loaded", status
        rows = conn.execute("select (select count(*) from public.customer_orders)"
                            " + (select count(*) from public.customers)").fetchone()[0]
    return elapsed, peak_mb, rows


def raw_copy(cluster: LocalCluster, url: str, directory: Path) -> tuple[float, int]:
    """The same rows, COPYed into the same emptied tables: seconds and rows."""
    tables = ("customers", "customer_orders")  # orders reference customers
    with psycopg.connect(url, autocommit=True) as conn:
        for table in tables:
            with (directory / f"{table}.copy").open("wb") as out, \
                    conn.cursor().copy(f"copy public.{table} to stdout (format binary)") as copy:
                for block in copy:
                    out.write(block)
        conn.execute("truncate public.customer_orders, public.customers cascade")
        checkpoint(cluster)
        began = time.perf_counter()
        with conn.transaction():
            for table in tables:
                with conn.cursor().copy(f"copy public.{table} from stdin (format binary)") as copy:
                    for chunk in file_chunks(directory / f"{table}.copy"):
                        copy.write(chunk)
        elapsed = time.perf_counter() - began
        rows = conn.execute("select (select count(*) from public.customer_orders)"
                            " + (select count(*) from public.customers)").fetchone()[0]
    return elapsed, rows


def main() -> None:
    # Other sizes for a quicker look: `python -P bench/import.py 10000 100000` (smallest and largest are compared).
    sizes = tuple(sorted(int(arg) for arg in sys.argv[1:])) or SIZES
    results: dict[int, dict[str, float]] = {}
    fake = FakeShopify()
    fake.add_shop(SHOP, "Bench Prints")
    with throwaway_cluster("haven-bench-") as cluster, serve(fake.app()) as base, \
            tempfile.TemporaryDirectory(prefix="haven-bench-import-") as scratch:
        fake.base = base  # type: ignore[attr-defined]
        os.environ["HAVEN_BENCH_SHOPIFY_TOKEN"] = fake.issue_access_token(SHOP, lifetime=86_400)
        url = migrated_template(cluster, "haven_bench")
        user_id = str(uuid.uuid4())
        with psycopg.connect(url) as conn:
            conn.execute("insert into auth.users (id, aud, role, email) values (%s, 'authenticated',"
                         " 'authenticated', 'bench@example.test')", [user_id])
            conn.execute("insert into public.integrations (user_id, provider, status, metadata)"
                         " values (%s, 'shopify', 'connected', %s)", [user_id, json.dumps({"shop_domain": SHOP})])
        directory = Path(scratch)
        for orders in sizes:
            path = directory / f"orders-{orders}.jsonl"
            lines = write_jsonl(path, orders)
            # The largest size in rounds, import and raw COPY in turn, medians taken: one 1M run
            # varies by up to a tenth from the next on this machine, either side.
            rounds = ROUNDS if orders == max(sizes) else 1
            imports, copies, peaks = [], [], []
            for round_number in range(1, rounds + 1):
                elapsed, peak_mb, rows = run_import(cluster, url, fake, base, user_id, path)
                copy_elapsed, copy_rows = raw_copy(cluster, url, directory)
                assert copy_rows == rows
                imports.append(elapsed)
                copies.append(copy_elapsed)
                peaks.append(peak_mb)
                print(f"{orders:>9} orders ({lines} JSONL lines, {path.stat().st_size / 2**20:.0f} MB), round "
                      f"{round_number}/{rounds}: import {elapsed:6.1f} s, {rows / elapsed:>8.0f} rows/s "
                      f"({lines / elapsed:.0f} lines/s), importer peak RSS {peak_mb:.1f} MB | raw COPY of the same "
                      f"{rows} rows {copy_elapsed:5.1f} s, {rows / copy_elapsed:>8.0f} rows/s, ratio "
                      f"{copy_elapsed / elapsed:.2f}", flush=True)
            path.unlink()
            results[orders] = {"import_rows_per_s": rows / statistics.median(imports),
                               "copy_rows_per_s": rows / statistics.median(copies),
                               "rss_mb": max(peaks)}
    big, small = results[max(sizes)], results[min(sizes)]
    ratio = big["import_rows_per_s"] / big["copy_rows_per_s"]
    growth = big["rss_mb"] - small["rss_mb"]
    print(f"medians of {ROUNDS} rounds at {max(sizes)} orders; peak RSS the highest of them")
    print(f"goal: import >= 50% of raw COPY ({'met' if ratio >= 0.5 else 'MISSED'}: {ratio:.0%}); "
          f"RSS growth {min(sizes)}->{max(sizes)} < 50 MB ({'met' if growth < 50 else 'MISSED'}: {growth:+.1f} MB)")
    print(f"RESULT orders={max(sizes)} import_rows_per_s={big['import_rows_per_s']:.0f} "
          f"copy_rows_per_s={big['copy_rows_per_s']:.0f} copy_ratio={ratio:.2f} rss_growth_mb={growth:.1f}")


if __name__ == "__main__":
    main()
