"""Serves a WSGI app on loopback in a thread, for the fake providers."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Yields the base URL (http://127.0.0.1:<port>) while the app answers there."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll: shutdown() waits for it, once per fake per test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-provider",
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
