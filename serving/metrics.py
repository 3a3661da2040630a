"""Prometheus metrics of one pod, kept in the pod's own registry.

An own :class:`~prometheus_client.CollectorRegistry` per app means two apps in one process (tests,
an edge and a central pod side by side) never share or clash on counters. Decisions and shadow pairs carry
their request's traffic class so a dashboard tells replayed evaluation traffic from production; summed
over ``traffic`` they give the pod's whole load, as they did before the label.

Series:
    ``decisions_total{decision,route,label,traffic}``  decisions answered, by traffic class
                                                   (``production`` or ``replay``, :mod:`commons.traffic`)
    ``request_latency_seconds{decision}``          histogram of whole decision requests
    ``central_errors_total{decision}``             failed consultations of the central model
    ``rejected_requests_total{reason}``            refused requests (``unknown_decision``,
                                                   ``malformed_json``, ``invalid_batch``,
                                                   ``contract``, ``traffic_class``; without
                                                   tokens ``replay_without_tokens``; with a
                                                   region also ``residency``; with tokens required also
                                                   ``token_missing``, ``token_expired``, … as
                                                   :mod:`serving.auth` names them)
    ``shadow_comparisons_total{decision,agree,traffic}``  shadow pairs scored, by edge/central agreement
                                                   and traffic class
    ``out_of_range_total{decision}``               records holding a numeric value outside the
                                                   bundle's ``trained_range`` (sent to central
                                                   when the pod has one, see :mod:`serving.router`)
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

# Edge answers take milliseconds, central round trips tens of ms, timeouts about a second.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class PodMetrics:
    """The counters and histogram of one pod.

    Attributes:
        registry: the registry every series below is registered in.
        content_type: HTTP content type of :meth:`render`'s output.
    """

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter("decisions", "Decisions answered.",
                                 ["decision", "route", "label", "traffic"], registry=self.registry)
        self.latency = Histogram("request_latency_seconds", "Wall time of a decision request.",
                                 ["decision"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.central_errors = Counter("central_errors", "Failed consultations of the central model.",
                                      ["decision"], registry=self.registry)
        self.rejected = Counter("rejected_requests", "Requests refused before any decision.",
                                ["reason"], registry=self.registry)
        self.shadow = Counter("shadow_comparisons", "Shadow pairs scored by central.",
                              ["decision", "agree", "traffic"], registry=self.registry)
        self.out_of_range = Counter("out_of_range", "Records with a numeric value outside the trained range.",
                                    ["decision"], registry=self.registry)

    def render(self) -> bytes:
        """Prometheus text exposition of the registry."""
        return generate_latest(self.registry)
