"""Slow clients against the production server arrangement (`haven serve`: nginx in front of
gunicorn), default settings.

On a throwaway cluster: 200 connections trickle request heads and bodies a byte a second (a head
whose deadline cuts it off is opened again at once, as an attacker would), and 32 signed-in
users each begin an export of 30,000 orders and then stop reading. Meanwhile a probe calls
/healthz and /api/me 10 times a second, and wrk sends verified Shopify webhooks. Goal: every
probe answered (200 within 2 s), p99 under 500 ms.
Last line: RESULT slow_clients=… probe_ok_pct=… probe_p99_ms=… webhooks_per_s=…
"""
from __future__ import annotations

import sys
from pathlib import Path

# The repo root, not bench/: bench/queue.py would shadow the standard library's queue module.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import psycopg
import requests

from service.auth import sign_dev_token
from service.localdb import free_port
from service.providers.shopify.client import webhook_hmac
from service.testing import migrated_template, throwaway_cluster, wait_until_serving

SECRET = "bench-shopify-secret"
JWT_SECRET = "bench-jwt-secret-that-is-long-enough-for-hs256-0123456789"
SHOP = "slow-prints.myshopify.com"
TRICKLING = int(os.environ.get("BENCH_SLOW_CONNECTIONS", "200"))  # half heads, half bodies
READERS = int(os.environ.get("BENCH_STALLED_READERS", "32"))
ORDERS_PER_READER = 30_000
DURATION_S = int(os.environ.get("BENCH_SECONDS", "20"))
PROBES_PER_S = 10
WEBHOOK = {"id": 1, "email": "jon@example.com", "updated_at": "2026-11-20T10:05:00-05:00", "total_price": "45.00"}
WRK_SCRIPT = """
local counter = 0
request = function()
  counter = counter + 1
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["X-Shopify-Topic"] = "orders/create"
  headers["X-Shopify-Shop-Domain"] = "%(shop)s"
  headers["X-Shopify-Hmac-Sha256"] = "%(hmac)s"
  headers["X-Shopify-Webhook-Id"] = "%(run)s-" .. math.random(1, 1000000000) .. "-" .. counter
  return wrk.format("POST", "/api/webhooks/shopify", headers, %(body)s)
end
"""


def prepare(url: str) -> list[str]:
    """A connected shop, and READERS users with their orders; the users' tokens."""
    tokens = []
    with psycopg.connect(url, autocommit=True) as conn:
        owner = str(uuid.uuid4())
        conn.execute("insert into auth.users (id, aud, role, email) values (%s, 'authenticated', 'authenticated',"
                     " 'shop@example.test')", [owner])
        conn.execute("select public.claim_shopify_shop(%s, %s)", [owner, SHOP])
        for n in range(READERS):
            user_id = str(uuid.uuid4())
            conn.execute("insert into auth.users (id, aud, role, email) values (%s, 'authenticated',"
                         " 'authenticated', %s)", [user_id, f"reader{n}@example.test"])
            conn.execute("insert into public.customer_orders (user_id, shopify_order_id, customer_email, total,"
                         " created_at) select %s, g::text, 'b' || g || '@x.test', g,"
                         " now() - make_interval(secs => g) from generate_series(1, %s) as g",
                         [user_id, ORDERS_PER_READER])
            tokens.append(sign_dev_token(JWT_SECRET, user_id, f"reader{n}@example.test", lifetime_seconds=3600))
    return tokens


class Attack:
    """The slow connections, kept open (and reopened when the server cuts one off) until stopped."""

    def __init__(self, port: int, tokens: list[str]) -> None:
        self.port = port
        self.tokens = tokens
        self.stop = threading.Event()
        self.reopened = 0
        self.readers: list[socket.socket] = []

    def _open(self, kind: str) -> socket.socket:
        conn = socket.create_connection(("127.0.0.1", self.port))
        if kind == "head":
            conn.sendall(b"GET /api/me HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        else:
            conn.sendall(b"POST /api/webhooks/shopify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000000\r\n\r\n{")
        return conn

    def trickle(self) -> None:
        kinds = ["head", "body"] * (TRICKLING // 2)
        conns = [self._open(kind) for kind in kinds]
        while not self.stop.wait(1.0):
            for index, conn in enumerate(conns):
                try:
                    conn.sendall(b"a")
                except OSError:  # cut off at its deadline: open another, as an attacker would
                    conn.close()
                    conns[index] = self._open(kinds[index])
                    self.reopened += 1
        for conn in conns:
            conn.close()

    def stall_readers(self) -> None:
        for token in self.tokens:
            reader = socket.socket()
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            reader.connect(("127.0.0.1", self.port))
            reader.sendall(f"GET /api/export?type=orders&startDate=2000-01-01 HTTP/1.1\r\nHost: x\r\n"
                           f"Authorization: Bearer {token}\r\n\r\n".encode())
            reader.recv(1024)  # the answer has begun; from here on nobody reads it
            self.readers.append(reader)


def probe(base: str, token: str, stop: threading.Event, results: list[tuple[bool, float]]) -> None:
    paths = ["/healthz", "/api/me"]
    with requests.Session() as session:
        n = 0
        next_at = time.monotonic()
        while not stop.is_set():
            started = time.monotonic()
            try:
                response = session.get(base + paths[n % 2], headers={"Authorization": f"Bearer {token}"}, timeout=2)
                ok = response.status_code == 200
            except requests.RequestException:
                ok = False
            results.append((ok, time.monotonic() - started))
            n += 1
            next_at += 1 / PROBES_PER_S
            stop.wait(max(0.0, next_at - time.monotonic()))  # the probe's own pace, 10 a second


def webhook_rate(base: str) -> float:
    body = json.dumps(WEBHOOK).encode()
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "webhook.lua"
        script.write_text(WRK_SCRIPT % {"shop": SHOP, "hmac": webhook_hmac(body, SECRET), "run": uuid.uuid4().hex[:8],
                                        "body": json.dumps(body.decode())})
        output = subprocess.run(["wrk", "-t", "2", "-c", "16", "-d", f"{DURATION_S // 2}s", "-s", str(script), base],
                                capture_output=True, text=True, check=True).stdout
    return next(float(line.split()[1]) for line in output.splitlines() if line.startswith("Requests/sec:"))


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `make bench` installs it (as root), or apt-get install wrk")
    with throwaway_cluster("haven-bench-") as cluster, tempfile.TemporaryDirectory() as state:
        url = migrated_template(cluster, "bench_slow")
        tokens = prepare(url)
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "SHOPIFY_CLIENT_ID": "bench", "SHOPIFY_CLIENT_SECRET": SECRET,
               "SUPABASE_JWT_SECRET": JWT_SECRET, "HAVEN_LOG_LEVEL": "WARNING", "HAVEN_STATE_DIR": state}
        server = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(server, base + "/livez")
            attack = Attack(port, tokens)
            trickler = threading.Thread(target=attack.trickle, name="trickle")
            trickler.start()
            attack.stall_readers()
            stop, results = threading.Event(), []
            prober = threading.Thread(target=probe, args=(base, tokens[0], stop, results), name="probe")
            prober.start()
            time.sleep(DURATION_S / 2)  # the attack alone, the probe measuring
            rate = webhook_rate(base)  # then webhooks beside it, for the other half
            stop.set()
            attack.stop.set()
            prober.join()
            trickler.join()
            for reader in attack.readers:
                reader.close()
        finally:
            server.terminate()
            server.wait(timeout=60)
    latencies = sorted(seconds for _, seconds in results)
    ok = sum(answered for answered, _ in results)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(f"server: haven serve (nginx -> gunicorn gthread, default settings); cores: {os.cpu_count()}")
    print(f"attack: {TRICKLING} connections trickling heads and bodies (reopened {attack.reopened} times when cut"
          f" off), {READERS} users' exports of {ORDERS_PER_READER} orders begun and never read")
    print(f"probe: {len(results)} calls of /healthz and /api/me over {DURATION_S} s: {ok} answered 200"
          f" ({100 * ok / len(results):.1f} %), p50 {latencies[len(latencies) // 2] * 1000:.0f} ms,"
          f" p99 {p99:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
    print(f"webhooks meanwhile: {rate:.0f} verified deliveries/s (wrk -c16, {DURATION_S // 2} s)")
    print(f"RESULT slow_clients={TRICKLING + READERS} probe_ok_pct={100 * ok / len(results):.1f}"
          f" probe_p99_ms={p99:.0f} webhooks_per_s={rate:.0f}")


if __name__ == "__main__":
    main()
