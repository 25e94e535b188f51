"""`haven serve` as production runs it: nginx in front of gunicorn, so slow clients cannot
starve anyone, stalled downloads hold no database connection, and stalled requests are cut off.
The server runs as its own process against its own database."""
from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import psycopg
import pytest
import requests

from service.auth import sign_dev_token
from service.config import PROJECT_ROOT
from service.localdb import free_port
from service.migrate import recreate_database
from service.testing import TEMPLATE_DB

from .conftest import JWT_SECRET
from .support.db import sql
from .support.exports import add_orders
from .support.queue import wait_until
from .support.serve import Served, haven_serve

SLOW = 16  # of each kind: more than the server has threads, many times over
METRICS_TOKEN = "serve-metrics-token"
ROWS = 100_000  # 10 MB of CSV: far more than the socket buffers and nginx's memory buffers


@pytest.fixture(scope="module")
def module_database(cluster, template_url) -> Iterator[str]:  # type: ignore[no-untyped-def]
    name = f"serve_{uuid.uuid4().hex[:8]}"
    recreate_database(cluster.url(), name, template=TEMPLATE_DB)
    yield cluster.url(name)
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="module")
def owner(module_database) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    user_id = str(uuid.uuid4())
    sql(module_database, "insert into auth.users (id, aud, role, email) values (%s, 'authenticated',"
                         " 'authenticated', 'serve@example.test')", [user_id])
    return user_id, sign_dev_token(JWT_SECRET, user_id, "serve@example.test")


@pytest.fixture(scope="module")
def served(module_database, tmp_path_factory) -> Iterator[Served]:  # type: ignore[no-untyped-def]
    state = tmp_path_factory.mktemp("serve-state")
    # Two threads: two slow clients would be enough to starve gunicorn on its own.
    with haven_serve(module_database, state, state / "serve.log", SUPABASE_JWT_SECRET=JWT_SECRET,
                     HAVEN_WEB_THREADS="2", HAVEN_CLIENT_HEADER_TIMEOUT_SECONDS="2", HAVEN_METRICS_TOKEN=METRICS_TOKEN,
                     HAVEN_CLIENT_BODY_TIMEOUT_SECONDS="2") as server:
        yield server


def trickling(port: int, stack: ExitStack) -> None:
    """Opens SLOW connections stuck in their request head and SLOW stuck in their body."""
    for n in range(SLOW):
        head = stack.enter_context(socket.create_connection(("127.0.0.1", port)))
        head.sendall(b"GET /api/me HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        body = stack.enter_context(socket.create_connection(("127.0.0.1", port)))
        body.sendall(b"POST /api/webhooks/shopify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000\r\n\r\n{\"id\": " + str(n).encode())


def probes_answered(base: str, token: str) -> list[int]:
    return [requests.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code
            for _ in range(5) for path in ("/healthz", "/api/me")]


def test_slow_clients_starve_nobody(served, owner) -> None:  # type: ignore[no-untyped-def]
    with ExitStack() as stack:
        trickling(served.port, stack)
        assert probes_answered(served.base, owner[1]) == [200] * 10


def test_without_the_front_the_same_clients_starve_everyone(module_database, owner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The control: what the front is for. gunicorn alone gives each slow client a thread.
    with haven_serve(module_database, tmp_path, tmp_path / "serve.log", SUPABASE_JWT_SECRET=JWT_SECRET,
                     HAVEN_FRONT="none", HAVEN_WEB_THREADS="2") as server, ExitStack() as stack:
        trickling(server.port, stack)
        with pytest.raises(requests.Timeout):
            requests.get(server.base + "/livez", timeout=2)


def test_a_stalled_download_holds_no_database_connection(served, owner, module_database) -> None:  # type: ignore[no-untyped-def]
    user_id, token = owner
    add_orders(module_database, user_id, ROWS)
    with socket.socket() as reader:
        # A small window, so the kernel's buffers hold a small part of the answer while we stall.
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        reader.connect(("127.0.0.1", served.port))
        # HTTP/1.0: no chunked framing in the body we count, and the server closes at its end.
        reader.sendall(f"GET /api/export?type=orders&startDate=2000-01-01 HTTP/1.0\r\nHost: x\r\n"
                       f"Authorization: Bearer {token}\r\n\r\n".encode())
        head = reader.recv(4096)
        assert head.startswith(b"HTTP/1.1 200"), head
        # The reader stalls here. nginx takes the whole answer meanwhile, so the export's
        # transaction ends and its connection goes back: nothing waits on this client.
        wait_until(lambda: sql(module_database, "select status from public.export_history") == [("completed",)],
                   what="the export to finish while its reader stalls")
        copying = sql(module_database, "select count(*) from pg_stat_activity where datname = current_database()"
                                       " and query ilike 'copy %%' and state <> 'idle'")
        assert copying == [(0,)]
        received = head
        reader.settimeout(30)
        while chunk := reader.recv(1 << 20):  # to the end: the server closes after this answer
            received += chunk
    body = received.split(b"\r\n\r\n", 1)[1]
    assert body.count(b"@x.test") == ROWS


@pytest.mark.parametrize("request_bytes", [
    b"GET /livez HTTP/1.1\r\nHost: x\r\n",  # a head that never ends
    b"POST /api/webhooks/shopify HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",  # a body that stops
])
def test_a_stalled_request_is_cut_off(served, request_bytes) -> None:  # type: ignore[no-untyped-def]
    with socket.create_connection(("127.0.0.1", served.port)) as client:
        client.sendall(request_bytes)
        client.settimeout(60)  # a bound for a failing test, far past the 2 s deadline
        assert client.recv(1024) == b""  # closed by the server at its deadline


def run_serve(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "service.cli", "serve", *args], cwd=PROJECT_ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


def test_a_port_in_use_is_refused_in_one_line(module_database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        result = run_serve("--port", str(port), DATABASE_URL=module_database, HAVEN_STATE_DIR=str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: 127.0.0.1:{port} is already in use (another `haven run` or `haven serve`?): stop it, or choose"
        " another port with HAVEN_PORT or --port"]


def test_a_malformed_setting_is_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = run_serve(HAVEN_PORT="abc", HAVEN_STATE_DIR=str(tmp_path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == ["Error: HAVEN_PORT: invalid literal for int() with base 10: 'abc'"]


def test_metrics_sum_what_every_gunicorn_worker_counted(served) -> None:  # type: ignore[no-untyped-def]
    refused = requests.post(served.base + "/api/webhooks/shopify", data=b"{}", timeout=10,
                            headers={"X-Shopify-Hmac-Sha256": "forged", "Content-Type": "application/json"})
    assert refused.status_code == 401
    text = requests.get(served.base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
                        timeout=10).text
    assert 'haven_webhook_answers_total{outcome="invalid_hmac"} 1.0' in text
