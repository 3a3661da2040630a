"""The decider: pending changes → the deployed pods' answers → insights, with alert cooldown.

Every change goes to the edge pod of its decision through the same HTTP API any client uses
(``POST /v1/decisions/{decision}``), so the pod's contract check and hybrid oracle routing apply
unchanged: the insight's ``route`` says whether the edge answered or the central oracle did.

Failures lose nothing:

- a 4xx or 3xx answer (the record breaks the contract, the pod serves another decision, a token is
  refused; redirects are not followed) is final: a batch refused as a whole is re-sent record by
  record, then each refused change is ``failed`` with the pod's reason and quarantined;
- a pod that cannot be reached (connection refused or not made in time) or a token endpoint that
  does not answer leaves the change pending, no try counted: it is tried again after half the time
  it has waited (``backoff_s`` to ``max_wait_s``) for as long as it takes, so every change made
  while a pod is down is decided once the pod is back (a warning is logged when a pod is lost and
  when it answers again);
- a 5xx or 429 answer, a 200 that is not one answer per record, or a pod that took the request and
  did not answer in time is retried with exponential backoff (``backoff_s × 2^tries``) and
  ``failed`` after ``max_tries`` attempts: the change itself may be what the pod fails on.

Alerts. An insight whose label is its decision's positive label (:data:`ALERT_LABELS`) is an
alert, unless the same product had an alert for the same decision less than ``cooldown_s`` ago and
the signal has not moved further since: for price_spike the price differs from the alerted one
by less than :data:`FURTHER`, for urgent_inventory the stock is not below the alerted level.
Suppressed alerts are still insights (``alert`` false), so the feed and the warehouse keep every
decision. A new review is always a new signal.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from datetime import datetime, timezone
from typing import Any

import httpx

from commons.token_client import BearerAuth, TokenFetchError, TokenSource
from live.broker import Broker
from live.store import Change
from training.decisions import DECISIONS

#: Decision → the label that raises an alert (each spec's positive label).
ALERT_LABELS = {name: spec.labels[1] for name, spec in DECISIONS.items()}
#: Relative price move from the alerted price that counts as "moved further" (5 %).
FURTHER = 0.05
BATCH = 32

log = logging.getLogger(__name__)


def insight_id(decision: str, digest: str, change: str) -> str:
    """Stable insight id: sha256 of (decision, signal digest, change id), 32 hex characters."""
    return hashlib.sha256(f"{decision}\n{digest}\n{change}".encode()).hexdigest()[:32]


def moved_further(decision: str, alerted: float | None, now: float | None) -> bool:
    """Whether a new alert's value goes beyond the last alerted one (see the module docstring)."""
    if decision == "negative_review" or alerted is None or now is None:
        return True
    if decision == "price_spike":
        return abs(now - alerted) >= FURTHER * abs(alerted)
    return now < alerted


class Decider:
    """Drains the change stream of a broker into insights.

    Several deciders may share one Redis broker (each claims its own changes, see
    :mod:`live.redis_broker`); on the embedded store one decider runs at a time.

    Args:
        store: the broker (the embedded :class:`live.store.LiveStore` or a Redis one).
        pods: decision → base URL of its edge pod (``http://127.0.0.1:PORT``).
        tokens: where the decider's own tokens come from (one per decision: its pod's audience,
            scope ``decide``; a client credential renews them before they expire), or None for pods
            without ``--jwks``.
        cooldown_s: seconds within which a product is not re-alerted for a decision (default 600).
        timeout_s: per-request time-out, seconds.
        max_tries: attempts before a 5xx answer or a read time-out becomes final (an unreachable pod
            is waited for without limit).
        backoff_s: first retry delay, seconds (doubles per try).
        max_wait_s: longest delay between two tries, seconds.
        metrics: optional :class:`live.metrics.LiveMetrics` to count decisions and latencies.
    """

    def __init__(self, store: Broker, pods: dict[str, str], *, tokens: TokenSource | None = None,
                 cooldown_s: float = 600.0, timeout_s: float = 5.0, max_tries: int = 5, backoff_s: float = 0.5,
                 max_wait_s: float = 30.0, metrics: Any = None) -> None:
        self.store, self.pods, self.cooldown_s = store, pods, cooldown_s
        self.max_tries, self.backoff_s, self.max_wait_s, self.metrics = max_tries, backoff_s, max_wait_s, metrics
        self.auth = {d: BearerAuth(tokens, d) for d in pods} if tokens is not None else {}
        self.client = httpx.Client(timeout=timeout_s)
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._waiting: set[str] = set()  # decisions whose pod could not be reached last time
        self._waited_since: dict[str, float] = {}  # change id → when it first found its pod unreachable

    def warm_up(self) -> None:
        """Fetch each decision's token and open a kept-alive connection to each pod, before any change.

        Otherwise the first change of each decision pays for both (0.3–0.6 s measured on the
        benchmark's 2 cores) and every change captured meanwhile queues behind it: the
        harvest → insight tail of a freshly started watcher. Nothing is decided. A token endpoint
        or pod not answering yet is left to the first change, which retries as usual.
        """
        for decision, url in self.pods.items():
            try:
                if decision in self.auth:
                    self.auth[decision].source.token(decision)
                self.client.get(f"{url}/healthz")
            except (httpx.HTTPError, TokenFetchError) as exc:
                log.info("warm-up of %s left to the first change: %s", decision, exc)

    def run(self, idle_s: float = 0.05) -> None:
        """Decide until :meth:`stop`; wakes on :attr:`wake` (set by the capture) or every ``idle_s``."""
        while not self._stop.is_set():
            self.wake.wait(idle_s)
            self.wake.clear()
            try:
                while self.step():
                    pass
            except Exception:  # the thread must outlive any one batch: nothing else decides
                log.exception("a decide step failed; its changes stay pending and are tried again")
                self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()

    def drain(self, timeout_s: float) -> int:
        """Decide until nothing is pending (retries due later included) or ``timeout_s`` passes; returns
        the changes still pending."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.step():
                left = self.store.counts()["changes"].get("pending", 0)
                if not left:
                    return 0
                time.sleep(0.05)
        return self.store.counts()["changes"].get("pending", 0)

    def step(self) -> int:
        """Decide one batch of due changes; returns how many changes it settled or rescheduled."""
        changes = self.store.pending(time.time(), limit=BATCH * 4)
        by_decision: dict[str, list[Change]] = {}
        for change in changes:
            by_decision.setdefault(change.decision, []).append(change)
        for decision, group in by_decision.items():
            for start in range(0, len(group), BATCH):
                self._decide(decision, group[start:start + BATCH])
        return len(changes)

    def _decide(self, decision: str, changes: list[Change]) -> None:
        url = self.pods.get(decision)
        if url is None:
            for change in changes:
                self.store.fail(change, f"no_pod: no pod serves {decision}")
            return
        try:
            response = self.client.post(f"{url}/v1/decisions/{decision}", auth=self.auth.get(decision),
                                        json={"records": [c.record for c in changes]})
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            self._retry(changes, f"pod_unreachable: {type(exc).__name__}", final=False)
            return
        except httpx.HTTPError as exc:
            self._retry(changes, f"pod_no_answer: {type(exc).__name__}")
            return
        except TokenFetchError as exc:
            # The token endpoint may be restarting: waited for like an unreachable pod, never dropped.
            self._retry(changes, f"no_token: {exc}", final=False)
            return
        if decision in self._waiting:
            self._waiting.discard(decision)
            log.warning("the pod of %s answers again: deciding the changes that waited", decision)
        if response.status_code >= 500 or response.status_code == 429:
            self._retry(changes, f"pod_{response.status_code}")
            return
        for change in changes:
            self._waited_since.pop(change.change_id, None)
        if response.status_code != 200:
            # 3xx (redirects are not followed), 4xx, or another 2xx: no body of answers.
            if len(changes) > 1:
                for change in changes:
                    self._decide(decision, [change])
                return
            self.store.fail(changes[0], f"pod_{response.status_code}: {_reason(response)}")
            self._count("failed", decision, 1)
            return
        answers = _answers(response, len(changes))
        if answers is None:
            self._retry(changes, "pod_bad_answer: not one answer with label, score, route and signal_digest "
                                 "per record")
            return
        decided_at = datetime.now(timezone.utc).isoformat()
        insights = [self._insight(change, answer, decided_at) for change, answer in zip(changes, answers)]
        self.store.publish(insights, [c.change_id for c in changes])
        if self.metrics is not None:
            self.metrics.published(insights)

    def _insight(self, change: Change, answer: dict[str, Any], decided_at: str) -> dict[str, Any]:
        decision = change.decision
        alert = answer["label"] == ALERT_LABELS.get(decision)
        value = change.after if isinstance(change.after, (int, float)) else None
        if alert:
            last = self.store.last_alert(change.url, decision)
            if (last is not None and time.time() - last["alerted_at"] < self.cooldown_s
                    and not moved_further(decision, last["value"], value)):
                alert = False
        return {"insight_id": insight_id(decision, answer["signal_digest"], change.change_id),
                "change_id": change.change_id, "decision": decision, "label": answer["label"],
                "score": float(answer["score"]), "route": answer["route"], "alert": alert, "alert_value": value,
                "product_id": change.product_id, "url": change.url, "kind": change.kind, "before": change.before,
                "after": change.after, "changed_at": change.changed_at, "decided_at": decided_at,
                "model_version": answer.get("model_version"), "bundle_sha256": answer.get("bundle_sha256"),
                "signal_digest": answer["signal_digest"], "received_at": change.received_at}

    def _retry(self, changes: list[Change], reason: str, *, final: bool = True) -> None:
        """Try ``changes`` again later. ``final``: the try counts, and a change out of tries fails.
        Otherwise (the pod or its token endpoint cannot be reached) the change waits without a
        try counted, so one that waited out an outage still has all its tries for the pod's
        answers; the wait is half the time it has waited so far, from ``backoff_s`` to
        ``max_wait_s``."""
        now = time.time()
        if not final and changes and changes[0].decision not in self._waiting:
            self._waiting.add(changes[0].decision)
            log.warning("the pod of %s cannot be reached (%s): its changes wait until it can", changes[0].decision,
                        reason)
        for change in changes:
            if not final:
                since = self._waited_since.setdefault(change.change_id, now)
                delay = min(max(self.backoff_s, 0.5 * (now - since)), self.max_wait_s)
                self.store.retry_later(change, reason, now + delay, counted=False)
            elif change.tries + 1 >= self.max_tries:
                self.store.fail(change, f"{reason} after {change.tries + 1} tries")
                self._count("failed", change.decision, 1)
                continue
            else:
                self.store.retry_later(change, reason, now + self.backoff_s * 2 ** change.tries)
            self._count("retried", change.decision, 1)

    def _count(self, outcome: str, decision: str, n: int) -> None:
        if self.metrics is not None:
            self.metrics.decide_outcome(outcome, decision, n)


def _answers(response: httpx.Response, count: int) -> list[dict[str, Any]] | None:
    """The pod's ``decisions``: ``count`` answers, each with label, score, route and signal digest;
    None for any other body (HTML from a proxy, a short list, a missing field)."""
    try:
        answers = response.json()["decisions"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(answers, list) or len(answers) != count:
        return None
    needed = ("label", "score", "route", "signal_digest")
    if not all(isinstance(a, dict) and all(k in a for k in needed) and isinstance(a["score"], (int, float))
               for a in answers):
        return None
    return answers


def _reason(response: httpx.Response) -> str:
    """The pod's ``error``, followed by the field and message of each contract error it lists
    (``{"errors": [{"record", "field", "message"}, …]}``), at most 300 characters."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if not isinstance(body, dict):
        return str(body)[:300]
    reason = str(body.get("error", ""))
    details = [f"{e.get('field')}: {e.get('message')}" for e in body.get("errors") or () if isinstance(e, dict)]
    return (reason + (" (" + "; ".join(details) + ")" if details else ""))[:300]
