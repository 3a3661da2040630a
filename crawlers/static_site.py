"""Serve a folder over real HTTP on loopback, for demos and tests of the spiders.

Missing files give real 404 responses, as a live site would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) overflows under Scrapy's 8+ concurrent connections on
    # loopback; each dropped connection then costs a ~1 s SYN retry.
    request_queue_size = 128


class _QuietHandler(SimpleHTTPRequestHandler):
    """Static file handler that does not write one stderr line per request."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_folder(path: str | Path) -> Iterator[str]:
    """Serve ``path`` on 127.0.0.1 at a free port for the duration of the ``with`` block.

    Args:
        path: folder to serve (read only).

    Yields:
        Base URL ending in ``/``, e.g. ``"http://127.0.0.1:41234/"``.

    Raises:
        NotADirectoryError: ``path`` is not a folder.
    """
    folder = Path(path).resolve()
    if not folder.is_dir():
        raise NotADirectoryError(f"not a folder: {folder}")
    server = _Server(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=f"serve:{folder.name}",
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
