"""Which traffic a decision served: the ``traffic`` of every decision-log line.

Two classes, chosen per request by the ``Edge-Insights-Traffic`` header:

    ``production``  what clients send to be decided (the default: a request without the header)
    ``replay``      records replayed to measure the pod (an evaluation split sent through it, a
                    latency probe): decided and answered alike, but no evidence about live traffic

Drift is judged on production traffic only (:func:`training.drift.assess`): a replayed eval split
agrees with central exactly as it did at release, by construction, so it would dilute the test.
Marking traffic as replay therefore hides it from the drift test, and only a caller the pod can
identify may do it: a token granting scope ``replay`` (:data:`commons.tokens.SCOPE_REPLAY`) beside
``decide``. A pod without tokens cannot tell who asks and refuses the header's ``replay``
(:class:`ReplayRefused`), so no unauthenticated client can take its requests out of the test.

Lines written before the field existed have no ``traffic``; readers take its absence as
production (:func:`training.divergence.traffic_of` names it ``unrecorded``), the class every such
line was counted as when it was written.
"""

from __future__ import annotations

from commons.errors import ServingError

PRODUCTION, REPLAY = "production", "replay"
TRAFFIC_CLASSES = (PRODUCTION, REPLAY)
TRAFFIC_HEADER = "edge-insights-traffic"
"""The request header naming a request's traffic class (HTTP header names are case-insensitive)."""


def requested_traffic(values: list[str]) -> str:
    """The traffic class a request asks for, from its ``Edge-Insights-Traffic`` header values.

    Args:
        values: every value of the header the request carried (none: production).

    Returns:
        ``production`` or ``replay``.

    Raises:
        ValueError: the header is repeated or names another class (the message says which).
    """
    if not values:
        return PRODUCTION
    if len(values) > 1:
        raise ValueError(f"{TRAFFIC_HEADER} given {len(values)} times; send it once")
    value = values[0].strip().lower()
    if value not in TRAFFIC_CLASSES:
        raise ValueError(f"{TRAFFIC_HEADER} must be one of {', '.join(TRAFFIC_CLASSES)}, got {values[0][:40]!r}")
    return value


class ReplayRefused(ServingError):
    """A pod without tokens was asked to mark traffic as replay: nobody it can identify may do that."""

    http_status = 403
