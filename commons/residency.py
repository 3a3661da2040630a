"""Residency at the edge: which contract fields a pod of a given region may hold.

A pod started with a region (``edge-insights serve --region eu``) refuses any record that holds a
field the policy (:mod:`commons.privacy_policy`, ``[fields]``) does not allow in that region;
nothing refused is decided or logged. A field the policy does not name is allowed nowhere a
region is set: residency fails closed.
"""

from __future__ import annotations

from typing import Any

from commons.errors import EdgeInsightsError
from commons.privacy_policy import Policy


class ResidencyRefused(EdgeInsightsError):
    """A record holds a field its pod's region may not hold: 451 (RFC 7725, unavailable for legal
    reasons), so a caller tells it apart from a broken record (422) or a bad token (401/403)."""

    http_status = 451


def forbidden_fields(record: Any, region: str, policy: Policy) -> list[str]:
    """The fields of ``record`` (present, non-null) that ``region`` may not hold, in record order."""
    if not isinstance(record, dict):
        return []
    return [name for name, value in record.items()
            if value is not None and region not in policy.fields.get(name, ())]


def check_region(region: str, policy: Policy) -> None:
    """Refuse a region the policy never names (a typo must not turn every record away silently).

    Raises:
        ValueError: ``region`` is not one of the policy's regions.
    """
    if region not in policy.regions:
        raise ValueError(f"unknown region {region!r}; the privacy policy names {', '.join(policy.regions)}")
