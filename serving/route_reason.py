"""Why a decision took its route: the ``route_reason`` of every decision-log line.

Each reason belongs to one route, and names the cause in the words the pod's
metrics use (``out_of_range_total``, ``central_errors_total``):

    ``confident``     route ``edge``: the edge's confidence reached ``thresholds.abstain`` and every
                      numeric input lay inside ``trained_range`` (shadow-sampled lines included)
    ``no_central``    route ``edge``: the edge abstained or a value lay outside ``trained_range``,
                      but the pod has no central to ask
    ``abstain``       route ``central``: the edge's confidence was below ``thresholds.abstain``
    ``out_of_range``  route ``central``: a numeric input lay outside ``trained_range``
                      (:mod:`serving.trained_range`), whatever the edge's confidence; it wins over
                      ``abstain`` when both hold
    ``central_only``  route ``central``: the pod's bundle is revoked and central decides everything
    ``central_error`` route ``fallback``: central was asked (for ``abstain`` or ``out_of_range``)
                      but failed or gave an answer :mod:`serving.central_answer` refused; the
                      line's ``central_error`` says which

Lines written before the field existed have no ``route_reason``; readers take its absence as
``unrecorded`` (:func:`training.divergence.route_reason_of`), never as one of the reasons above.
"""

from __future__ import annotations

CONFIDENT, NO_CENTRAL = "confident", "no_central"
ABSTAIN, OUT_OF_RANGE, CENTRAL_ONLY = "abstain", "out_of_range", "central_only"
CENTRAL_ERROR = "central_error"


def asking_reason(unsure: bool, unseen: bool) -> str | None:
    """Why the edge's answer should go to central, None when it should not.

    Args:
        unsure: the edge's confidence is below the bundle's abstain threshold.
        unseen: a numeric input lies outside the bundle's ``trained_range``.
    """
    if unseen:
        return OUT_OF_RANGE
    return ABSTAIN if unsure else None
