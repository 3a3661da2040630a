"""Serve a folder over real HTTP on loopback, for demos and tests of the spiders.

Missing files give real 404 responses, as a live site would. :func:`serve_in_thread` is the
start/stop helper, and :class:`KeepAliveHandler` the handler base, shared with the market replay
(:func:`crawlers.replay.serve_replay`, :func:`crawlers.live_market.serve_live_market`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class LoopbackServer(ThreadingHTTPServer):
    """Threading HTTP server with a listen backlog for a crawler's burst of connections.

    socketserver's default backlog is 5: a crawler opening 8+ connections at once on loopback
    overflows it and the kernel drops SYNs, which the client re-sends only after a ~1 s timeout.
    """

    daemon_threads = True
    request_queue_size = 128


@contextmanager
def serve_in_thread(handler: type[BaseHTTPRequestHandler], name: str) -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1 at a free port from a daemon thread for the ``with`` block.

    Args:
        handler: request handler class (bind its arguments with ``functools.partial`` or a
            subclass).
        name: name of the serving thread.

    Yields:
        Base URL ending in ``/``, e.g. ``"http://127.0.0.1:41234/"``.
    """
    server = LoopbackServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class KeepAliveHandler(BaseHTTPRequestHandler):
    """Base of the shop servers' handlers: HTTP/1.1 keep-alive, Nagle off, no access log.

    Persistent connections, 404s included, as shop servers have: a crawler's connection pool then
    reuses its connections instead of paying a TCP handshake per page. Nagle's algorithm is off
    because headers and body go out in two writes, and Nagle holding the second one until the
    client's delayed ACK would add ~40 ms to every response.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_body(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
                  headers: Iterable[tuple[str, str]] = ()) -> None:
        """Answer ``status`` with ``body`` (its Content-Length set) and the extra ``headers``."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_not_found(self) -> None:
        """Answer 404 with a small HTML page, keeping the connection open."""
        self.send_body(404, _NOT_FOUND)


_NOT_FOUND = b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>"


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
    with serve_in_thread(partial(_QuietHandler, directory=str(folder)),
                         f"serve:{folder.name}") as base:
        yield base
