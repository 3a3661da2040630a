"""Pushed signals into the live loop: the intake webhook's inbox, taken as batches land.

The webhook (``edge-insights intake serve``) writes each accepted batch atomically into the inbox
folder; a watcher started with ``--inbox`` takes them from there with the drop-folder reader
(:func:`crawlers.intake.dropfolder.read_inbox`, once-only, under its lock), so the batch path and
the live path share one reader and one quarantine. Each record goes through the same change
capture as a revisited page, keyed by its ``url``; rows and batches the reader refuses are
quarantined in the live store (stage ``push``) with its reason. Records count as received when
their batch file landed (its modification time): push → insight latency starts there.

Crash safety: a take's id is written to the store before the files move and cleared once every
record was captured; a watcher that finds a take still open at start reads that take again (the
reader returns the files an id already took), capture is idempotent and quarantine rows are keyed
by take and line, so nothing is lost and nothing is kept twice. A take that fails while the
watcher runs (the inbox folder unwritable, a disk full) is logged and tried again after
:data:`RETRY_S`, before any new batch; the poller thread never dies of it, and the failures are
counted (:attr:`InboxPoller.failures`, ``live_inbox_failures_total`` on ``/metrics``).
While a watcher takes the inbox, the harvest's ``raw_pushed`` finds it empty; the records reach
``signal_history`` through the watcher's warehouse flush instead.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawlers.intake.batch import SUFFIXES
from crawlers.intake.dropfolder import read_inbox
from live.store import LiveStore

# How often the inbox is listed: adds at most this to push → insight latency. Listing a folder that
# is nearly always empty costs ~20 µs, so 10 ms is cheap. File events were tried instead: a watchdog
# observer (inotify) delivered the webhook's rename into the folder 0.59 s late (its inotify buffer
# holds move events up to 0.5 s to pair their two halves).
POLL_S = 0.01
#: Seconds between tries of a take that failed: a fault of the folder lasts, so no busy retry.
RETRY_S = 1.0
OPEN_TAKE = "inbox_take"

log = logging.getLogger(__name__)


class InboxPoller:
    """Takes batches from ``inbox`` until stopped; ``observe(url, record, received_at)`` gets each record.

    Args:
        inbox: the webhook's inbox folder (created if missing).
        store: the live store (quarantine, the open take).
        observe: the change capture's entry point.
    """

    def __init__(self, inbox: Path, store: LiveStore, observe: Callable[[str, dict[str, Any], float], None],
                 on_failure: Callable[[], None] | None = None) -> None:
        self.inbox, self.store, self.observe = Path(inbox), store, observe
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.records = 0
        #: Takes that raised (each logged with its error and tried again).
        self.failures = 0
        self._on_failure = on_failure
        self._stop = threading.Event()

    def run(self) -> None:
        """Finish a take a killed watcher left open, then poll until :meth:`stop`; a take that
        raises is logged, counted and tried again after :data:`RETRY_S`."""
        wait, left_open = 0.0, True  # at start, and after a failure, a take may be open
        while not self._stop.wait(wait):
            try:
                if left_open:  # only then: the store is not read every 10 ms on the push path
                    self.resume()
                    left_open = False
                self.poll()
                wait = POLL_S
            except Exception as exc:  # a folder fault must not end the thread: batches would pile up unread
                self.failures += 1
                if self._on_failure is not None:
                    self._on_failure()
                log.error("inbox take failed (retried in %.0f s): %s: %s", RETRY_S, type(exc).__name__, exc)
                wait, left_open = RETRY_S, True

    def resume(self) -> int:
        """Read again the take a killed watcher left open, if any; returns the records observed."""
        left_open = self.store.meta(OPEN_TAKE)
        return self._take(left_open) if left_open else 0

    def stop(self) -> None:
        self._stop.set()

    def poll(self) -> int:
        """Take what has landed; returns the records observed."""
        if not any(p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
                   for p in self.inbox.iterdir()):
            return 0
        take = f"live-{uuid.uuid4().hex[:12]}"
        self.store.set_meta(OPEN_TAKE, take)
        return self._take(take)

    def _take(self, take: str) -> int:
        load = read_inbox(self.inbox, take)
        # Keys make a re-read take quarantine each row once: a row's url names its batch and line.
        for row in load.quarantine:
            self.store.quarantine("push", row.get("url"), row["reason"], row, key=f"{take}:{row['url']}")
        records = iter(load.records)
        # The reader lists records file by file in the order of ``files``; a moved file keeps
        # its modification time, the instant the webhook landed it.
        for batch in load.files:
            if batch.status != "processed":
                self.store.quarantine("push", str(batch.path), f"batch_refused: {batch.reason}", None,
                                      key=f"{take}:{batch.name}")
                continue
            landed_at = batch.path.stat().st_mtime
            for _ in range(batch.records):
                record = next(records)
                self.observe(record["url"], record, landed_at)
        self.store.set_meta(OPEN_TAKE, None)
        self.records += len(load.records)
        return len(load.records)
