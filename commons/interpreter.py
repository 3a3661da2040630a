"""Interpreter settings for a long-running process whose threads answer within milliseconds.

Two stalls measured in the live watcher (``benchmarks/live_latency_ab.py`` push rows, a GC callback
timing each collection), both fixed here once the process has loaded what it keeps:

- **Full collections.** A generation-2 collection walks every tracked object: in the watcher, the
  PII engine's spaCy pipeline and word lists. After start-up they took 264–397 ms, a stall for every
  thread. :func:`gc.freeze` (Python docs, ``gc`` module, 3.7+) moves every object alive now into a
  permanent generation that collections skip: afterwards they took 20–24 ms.
- **The GIL convoy.** A thread that waits on a socket or SQLite gives up the GIL and must win it
  back from a busy thread (the watcher's Scrapy reactor parses 100 pages/s), which releases it
  only every switch interval (:func:`sys.setswitchinterval`, 5 ms by default). A decision makes
  dozens of such waits (HTTP to the pod, the store), so it queued for up to ~100 ms behind the crawl.
"""

from __future__ import annotations

import gc
import sys

#: Seconds a busy thread may hold the GIL while another waits (CPython's default is 0.005).
RESPONSIVE_SWITCH_INTERVAL_S = 0.0005


def freeze_startup_heap() -> None:
    """Collect once, then exempt every object alive now from later collections.

    Call once, after the process loaded what it keeps for its lifetime: frozen objects are never
    collected, so garbage frozen by mistake would stay (hence the collection first).
    """
    gc.collect()
    gc.freeze()


def favour_waiting_threads(interval_s: float = RESPONSIVE_SWITCH_INTERVAL_S) -> None:
    """Make a CPU-bound thread hand the GIL to a waiting one after ``interval_s`` seconds.

    A shorter interval costs some throughput of the busy thread (more switches) for shorter waits
    of the I/O-bound ones.

    Raises:
        ValueError: ``interval_s`` is not positive.
    """
    if interval_s <= 0:
        raise ValueError(f"switch interval must be positive, got {interval_s}")
    sys.setswitchinterval(interval_s)
