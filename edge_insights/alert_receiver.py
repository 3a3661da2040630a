"""A webhook subscriber on loopback, as the team that acts on alerts would run one.

The demo's live loop subscribes it to the watcher's alerts (``watch --webhook alerts=URL``), so
the run shows delivery end to end: each POST's Standard Webhooks signature is checked with the
``standardwebhooks`` package (a request that fails is answered 401 and counted, never taken),
and each ``webhook-id`` is kept once, as a receiver deduplicating at-least-once delivery must.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class ReceivedAlerts:
    """What the receiver took.

    Attributes:
        url: where it listens (``http://127.0.0.1:PORT/alerts``).
        alerts: webhook-id → the verified payload (an insight), first copy kept.
        requests: POSTs answered, duplicates and refusals included.
        refused: POSTs whose signature did not verify (answered 401).
    """

    url: str
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: int = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, headers: dict[str, str], body: bytes, verifier: Webhook) -> int:
        """Verify one POST and keep its payload; returns the HTTP status to answer."""
        with self.lock:
            self.requests += 1
        try:
            payload = verifier.verify(body, headers)
        except WebhookVerificationError:
            with self.lock:
                self.refused += 1
            return 401
        with self.lock:
            self.alerts.setdefault({k.lower(): v for k, v in headers.items()}["webhook-id"], payload)
        return 200

    def summary(self) -> dict[str, Any]:
        """``{"url", "requests", "refused", "alerts", "by_decision"}`` for the demo's table."""
        with self.lock:
            by_decision: dict[str, int] = {}
            for alert in self.alerts.values():
                by_decision[alert["decision"]] = by_decision.get(alert["decision"], 0) + 1
            return {"url": self.url, "requests": self.requests, "refused": self.refused,
                    "alerts": len(self.alerts), "by_decision": by_decision}


@contextmanager
def alert_receiver(secret: str) -> Iterator[ReceivedAlerts]:
    """Serve the receiver on a free loopback port until the block ends.

    Args:
        secret: the ``whsec_`` signing secret the watcher signs with.

    Yields:
        The :class:`ReceivedAlerts` it fills; POST to its ``url``.
    """
    verifier = Webhook(secret)
    received: ReceivedAlerts

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            status = received.take(dict(self.headers.items()), body, verifier)
            answer = json.dumps({"ok": status == 200}).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass  # the demo prints the summary, not an access log

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    received = ReceivedAlerts(url=f"http://127.0.0.1:{server.server_address[1]}/alerts")
    thread = threading.Thread(target=server.serve_forever, name="alert-receiver", daemon=True)
    thread.start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()
