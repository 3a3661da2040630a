"""A decider alone, as ``edge-insights decide`` runs it: deciders scale apart from watchers.

In a scale-out deployment (``EDGE_INSIGHTS_BROKER=redis://…``) watchers run with ``--no-decider``
and only capture; any number of decide processes claim the captured changes from the broker's
``deciders`` group, each under its own consumer name, and publish insights once each (see
:mod:`live.redis_broker`). A decide process that dies leaves its claimed changes to the others,
which take them over after the visibility timeout. On the embedded SQLite store one decide
process may run beside a ``watch --no-decider`` (the store has no claims, so a second one would
decide the same changes again; it would still publish each insight once).
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from live.broker import Broker
from live.decide import Decider
from live.redis_broker import RedisBroker


def run_decider(broker: Broker, decider: Decider, duration_s: float | None = None,
                poll_s: float = 0.05) -> dict[str, Any]:
    """Decide in this thread until ``duration_s`` (seconds) passes or ``decider.stop()`` is called
    (the command calls it on SIGINT or SIGTERM); returns the broker's counts and ``decided_s``.

    With Redis a second thread blocks on the change stream and wakes the decider as soon as a
    change is appended; otherwise the decider looks every ``poll_s`` seconds. Retries due later are
    picked up by the same polling. A stop lets the current step settle every change it claimed.

    Raises:
        redis.exceptions.ConnectionError, sqlite3.Error: the broker failed (the process exits; with
            Redis its unsettled claims are taken over by the other deciders).
    """
    stop = threading.Event()
    if isinstance(broker, RedisBroker):
        threading.Thread(target=broker.wake_on_changes, args=(decider.wake, stop), name="wake-on-changes",
                         daemon=True).start()
    timer = threading.Timer(duration_s, decider.stop) if duration_s is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    started = time.monotonic()
    decider.warm_up()
    try:
        decider.run(poll_s)
    finally:
        stop.set()
        if timer is not None:
            timer.cancel()
    return {**broker.counts(), "decided_s": round(time.monotonic() - started, 1)}


def run_decider_until_signalled(broker: Broker, decider: Decider, duration_s: float | None = None,
                                signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
                                ) -> dict[str, Any]:
    """:func:`run_decider` in a worker thread, while the calling thread waits for it and turns each of
    ``signals`` into ``decider.stop()``; returns :func:`run_decider`'s summary. Call it from the
    main thread (only it may set signal handlers); the previous handlers are restored at the end.

    Why a worker thread: Python runs a signal handler in the main thread, between two bytecodes.
    A main thread that decides holds the lock of ``decider.wake``'s condition (a plain, not
    re-entrant ``threading.Lock``) inside every ``wait`` and ``clear``; a handler landing there
    and setting the event waits for that lock forever, and the process never stops (a CI run
    met this). Waiting in ``Thread.join``, the main thread holds no lock the handler takes.

    Raises:
        whatever :func:`run_decider` raised in the worker thread (the broker failed).
    """
    outcome: dict[str, Any] = {}
    failure: list[BaseException] = []

    def work() -> None:
        try:
            outcome.update(run_decider(broker, decider, duration_s))
        except BaseException as exc:  # re-raised in the calling thread, where the command reports it
            failure.append(exc)

    worker = threading.Thread(target=work, name="decider")
    previous = {signum: signal.signal(signum, lambda *_: decider.stop()) for signum in signals}
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.5)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if failure:
        raise failure[0]
    return outcome
