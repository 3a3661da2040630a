"""A wake-up from the thread that publishes insights to the feed's streams, which wait on asyncio.

The decider publishes from its own thread; each SSE stream of the feed (:mod:`live.feed`) runs on
uvicorn's event loop. Rather than every stream looking for new rows on a fixed interval, the
broker calls :meth:`PublishSignal.notify` after each publish commits and the streams blocked in
:meth:`PublishSignal.wait` wake at once (``loop.call_soon_threadsafe``, the one asyncio call that
is safe from another thread). A publish made by another process (a ``decide`` process beside a
``watch --no-decider``) sends no wake-up: the wait's time-out is the streams' fallback poll.

A generation counter closes the race between a stream finding nothing new and starting to wait:
the stream reads :attr:`PublishSignal.generation` before its query and waits only while the
generation is still the one it read.
"""

from __future__ import annotations

import asyncio
import threading


class PublishSignal:
    """Tells asyncio waiters, from any thread, that insights were published."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def generation(self) -> int:
        """How many publishes were notified so far (read it before looking for new rows)."""
        return self._generation

    def notify(self) -> None:
        """Wake every waiter (call after the publish committed; safe from any thread)."""
        with self._lock:
            self._generation += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that waiter's loop closed (the feed stopped); nothing to wake
                pass

    async def wait(self, seen: int, timeout_s: float) -> bool:
        """Wait until a publish after generation ``seen``, or ``timeout_s`` seconds.

        Returns:
            True when woken by a publish (or one happened since ``seen``), False on time-out.
        """
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            if self._generation != seen:
                return True
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(waiter)
