"""Prometheus metrics of the watcher, in its own registry (served by the feed's ``/metrics``).

Series:
    ``live_pages_total{outcome}``                     revisits by outcome: ``changed``, ``unchanged``
                                                      (200, same content), ``not_modified`` (304),
                                                      ``failed`` (download/parse; a quarantine row each),
                                                      ``quarantined`` (rules), ``still_refused`` (a
                                                      redirect refused as at the URL's last visit: no
                                                      new row, the first refusal's row stands for it)
    ``live_pushed_total{outcome}``                    pushed records taken from the inbox: ``changed``,
                                                      ``unchanged`` or ``quarantined``
    ``live_inbox_failures_total``                     inbox takes that raised (logged, read again)
    ``live_changes_total{decision}``                  changes captured per decision fed
    ``live_insights_total{decision,route,alert}``     insights published
    ``live_decide_total{outcome,decision}``           decision attempts ``retried`` or ``failed``
    ``live_harvest_to_insight_seconds{decision}``     histogram: response received → insight published
    ``live_stream_events_total``                      insights sent on SSE streams
    ``live_webhook_deliveries_total{outcome}``        webhook attempts: ``delivered``, ``retried``, ``dead``
    ``live_insight_to_delivery_seconds``              histogram: insight published → webhook acknowledged
                                                      (retries included)
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

# The goal is p99 ≤ 250 ms; buckets resolve around it.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A delivery that needed retries waits out its backoff (0.5 s doubling: a minute by the 8th try).
DELIVERY_BUCKETS = (*LATENCY_BUCKETS, 30.0, 60.0, 300.0)


class LiveMetrics:
    """The watcher's counters and latency histogram (one registry per instance)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.pages = Counter("live_pages", "Revisits by outcome.", ["outcome"], registry=self.registry)
        self.pushed = Counter("live_pushed", "Pushed records taken from the inbox.", ["outcome"],
                              registry=self.registry)
        self.inbox_failures = Counter("live_inbox_failures", "Inbox takes that raised (logged, tried again).",
                                      registry=self.registry)
        self.changes = Counter("live_changes", "Changes captured per decision fed.", ["decision"],
                               registry=self.registry)
        self.insights = Counter("live_insights", "Insights published.", ["decision", "route", "alert"],
                                registry=self.registry)
        self.decide = Counter("live_decide", "Decision attempts retried or failed.", ["outcome", "decision"],
                              registry=self.registry)
        self.latency = Histogram("live_harvest_to_insight_seconds", "Response received to insight published.",
                                 ["decision"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.stream_events = Counter("live_stream_events", "Insights sent on SSE streams.", registry=self.registry)
        self.webhook_deliveries = Counter("live_webhook_deliveries", "Webhook attempts by outcome.", ["outcome"],
                                          registry=self.registry)
        self.delivery_latency = Histogram("live_insight_to_delivery_seconds",
                                          "Insight published to webhook acknowledged.", buckets=DELIVERY_BUCKETS,
                                          registry=self.registry)

    def published(self, insights: list[dict[str, Any]]) -> None:
        """Count insights just published and observe their harvest → insight latency."""
        now = time.time()
        for insight in insights:
            self.insights.labels(insight["decision"], insight["route"], str(bool(insight["alert"])).lower()).inc()
            self.latency.labels(insight["decision"]).observe(max(0.0, now - insight["received_at"]))

    def decide_outcome(self, outcome: str, decision: str, n: int) -> None:
        self.decide.labels(outcome, decision).inc(n)

    def webhook_outcome(self, outcome: str, published: float | None = None) -> None:
        """Count a webhook attempt (``delivered``, ``retried``, ``dead``); a delivered one with its
        insight's ``published`` epoch seconds is observed in the latency histogram."""
        self.webhook_deliveries.labels(outcome).inc()
        if published is not None:
            self.delivery_latency.observe(max(0.0, time.time() - published))

    def totals(self) -> dict[str, dict[str, float]]:
        """This process's counters by series (``live_`` and ``_total`` dropped), each as label values
        (joined by ``,``; ``all`` without labels) → count, zero counts left out."""
        out: dict[str, dict[str, float]] = {}
        for family in self.registry.collect():
            if family.type != "counter":
                continue
            counts = {",".join(sample.labels.values()) or "all": sample.value for sample in family.samples
                      if sample.name.endswith("_total") and sample.value}
            out[family.name.removeprefix("live_")] = counts
        return out

    def render(self) -> bytes:
        """Prometheus text exposition of the registry."""
        return generate_latest(self.registry)
