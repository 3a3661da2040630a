"""Replay protection: each token id (``jti``) is accepted once.

With replay protection on, a pod remembers the ``jti`` of every token it accepted until that
token expires (after which the expiry check refuses it anyway), so memory holds at most the
tokens issued for this pod that are still alive. The memory is the pod's own: pods behind one
load balancer each accept a token once, which is what a single-use token needs only when clients
stick to one pod.
"""

from __future__ import annotations

import threading
import time


class SeenTokens:
    """Token ids already accepted, each kept until its expiry plus ``leeway_s`` seconds."""

    def __init__(self, leeway_s: float = 0.0) -> None:
        self.leeway_s = leeway_s
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_purge = 0.0

    def first_use(self, jti: str, exp: float, now: float | None = None) -> bool:
        """Record ``jti`` (valid until ``exp``, Unix seconds); False when it was seen before."""
        now = time.time() if now is None else now
        with self._lock:
            if now >= self._next_purge:
                # Purged at most once a second: a linear sweep per request would grow with traffic.
                self._expiry = {j: e for j, e in self._expiry.items() if e + self.leeway_s >= now}
                self._next_purge = now + 1.0
            if jti in self._expiry:
                return False
            self._expiry[jti] = exp
            return True

    def __len__(self) -> int:
        return len(self._expiry)
