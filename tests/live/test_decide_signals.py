"""``edge-insights decide`` stops on SIGTERM whenever it lands: the decide loop runs in a worker
thread, so the handler (which Python runs in the main thread) never meets a lock the interrupted
code holds. A decide loop in the main thread could hang for ever on a SIGTERM that landed inside
``Event.wait``; a CI run met it."""

from __future__ import annotations

import os
import signal
import threading
import time

from edge_insights.broker_load import append_price_change
from live.decide import Decider
from live.scaleout import run_decider_until_signalled
from live.store import LiveStore


class _RecordingDecider(Decider):
    """A decider that notes the thread each step runs in."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.threads: set[str] = set()

    def step(self) -> int:
        self.threads.add(threading.current_thread().name)
        return super().step()


def _states(store: LiveStore) -> dict[str, int]:
    return {row["state"]: row["n"] for row in store.query("SELECT state, COUNT(*) AS n FROM changes GROUP BY state")}


def test_sigterm_stops_the_decider_which_never_runs_in_the_main_thread(tmp_path):
    store = LiveStore(tmp_path / "live.sqlite")
    for number in range(5):
        append_price_change(store, number, tag="sigterm")
    decider = _RecordingDecider(store, {})  # no pod: each change fails with its reason
    before = signal.getsignal(signal.SIGTERM)

    def terminate_once_settled() -> None:
        deadline = time.monotonic() + 60
        while _states(store) != {"failed": 5} and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate_once_settled, daemon=True).start()
    summary = run_decider_until_signalled(store, decider)
    assert summary["changes"] == {"failed": 5}
    reasons = {row["reason"] for row in store.query("SELECT reason FROM changes")}
    assert reasons == {"no_pod: no pod serves price_spike"}
    assert decider.threads == {"decider"}
    assert signal.getsignal(signal.SIGTERM) is before

