"""One error hierarchy: :class:`EdgeInsightsError` and one subclass per room.

A room raises its own subclass (or a more precise one derived from it), so a caller can catch
"anything the harvest refused" without knowing each case. Errors that a caller may answer over
HTTP carry the status in :attr:`EdgeInsightsError.http_status`; :func:`commons.http.error_response`
is the one place that turns them into a response.
"""

from __future__ import annotations


class EdgeInsightsError(Exception):
    """Base of every error Edge Insights raises on purpose.

    Attributes:
        http_status: the HTTP status a server answers this error with (400 unless a subclass
            or the raiser says otherwise).
    """

    http_status: int = 400

    def __init__(self, message: str = "", http_status: int | None = None) -> None:
        super().__init__(message)
        if http_status is not None:
            self.http_status = http_status


class HarvestError(EdgeInsightsError):
    """crawlers: a page, feed row or pushed batch could not become signal records."""


class DataQualityError(EdgeInsightsError):
    """data_quality: a row rule, suite or invariant of the scrub/validate stages failed."""


class ConservationError(DataQualityError):
    """Rows were lost or invented by a split (count in != kept + quarantined)."""

    http_status = 500


class TrainingError(EdgeInsightsError):
    """training: examples, a model or a gate could not be built as asked."""


class ExportError(EdgeInsightsError):
    """edge_export: a model could not become a faithful bundle (parity, quantisation)."""


class BundleError(EdgeInsightsError):
    """A bundle (or release file) fails verification or does not match its manifest; a pod
    must refuse it (raised by :mod:`commons.manifest`, used by edge_export and serving)."""


class ServingError(EdgeInsightsError):
    """serving: a pod cannot answer as asked (its central model, its input)."""


class OrchestrationError(EdgeInsightsError):
    """orchestration: a step found the state another step should have left (e.g. no staging)."""


def assert_conserved(n_in: int, kept: list, quarantined: list, where: str = "") -> None:
    """Check that a split accounted for every input row (count in = count out + quarantined).

    Args:
        where: names the batch or stage in the message (optional).

    Raises:
        ConservationError: ``n_in != len(kept) + len(quarantined)``; the message gives all three
            counts and the difference.
    """
    n_out = len(kept) + len(quarantined)
    if n_in != n_out:
        raise ConservationError(
            f"{where + ': ' if where else ''}row count not conserved: {n_in} in, {len(kept)} kept + "
            f"{len(quarantined)} quarantined = {n_out} out ({n_in - n_out:+d} lost)")
