"""Residency: which contract fields a pod of a given region may hold, and which stores the central
store's region may keep.

A pod started with a region (``edge-insights serve --region eu``) refuses any record that holds a
field the policy (:mod:`commons.privacy_policy`, ``[fields]``) does not allow in that region;
nothing refused is decided or logged. A field the policy does not name is allowed nowhere a
region is set: residency fails closed. A region that may not hold a field the decision *requires*
is refused at start (:func:`check_contract_region`): there, no valid record could be answered.

The central store (a state folder: warehouse, staging, inbox, logs, the live store) is kept in one
region (``EDGE_INSIGHTS_REGION``, else the policy's ``central_region``). Every store of the policy
lives there, so a region that any store may not be kept in is refused before anything is written
(:meth:`commons.settings.Settings.ensure`, which every command and the Dagster definitions call).
"""

from __future__ import annotations

from typing import Any

from commons.errors import EdgeInsightsError
from commons.privacy_policy import Policy


class ResidencyRefused(EdgeInsightsError):
    """A record holds a field its pod's region may not hold: 451 (RFC 7725, unavailable for legal
    reasons), so a caller tells it apart from a broken record (422) or a bad token (401/403)."""

    http_status = 451


class RegionCannotServe(ValueError):
    """A pod's region may not hold a field its bundle's contract requires (:func:`check_contract_region`):
    a ValueError, as every other bad start argument is."""


class ResidencyViolation(EdgeInsightsError):
    """The central store's region is one that a store of the policy may not be kept in."""


def ensure_central_residency(policy: Policy, region: str | None) -> str:
    """The central store's region (``region``, else the policy's ``central_region``), once every
    store of the policy may be kept there.

    Raises:
        ResidencyViolation: the region is not one the policy names, or some store may not be kept
            in it (each is named with the regions it may be kept in).
    """
    region = region or policy.central_region
    try:
        check_region(region, policy)
    except ValueError as err:
        raise ResidencyViolation(f"central store: {err}") from None
    refused = [f"{s.name} (allowed: {', '.join(s.regions)})" for s in policy.stores.values()
               if region not in s.regions]
    if refused:
        raise ResidencyViolation(f"the central store is in region {region!r}, but the privacy policy keeps "
                                 f"these stores out of it: {'; '.join(refused)}. Keep the state folder in an "
                                 "allowed region (EDGE_INSIGHTS_REGION) or change the policy by a reviewed commit.")
    return region


def forbidden_fields(record: Any, region: str, policy: Policy) -> list[str]:
    """The fields of ``record`` (present, non-null) that ``region`` may not hold, in record order."""
    if not isinstance(record, dict):
        return []
    return [name for name, value in record.items()
            if value is not None and region not in policy.fields.get(name, ())]


def check_contract_region(contract: dict[str, Any], region: str, policy: Policy) -> None:
    """Refuse a region that may not hold a field the contract requires: a pod there would start,
    report ready and answer every valid record 451. An optional field it may not hold is fine (the
    records without it are answered).

    Args:
        contract: a feature contract (:mod:`commons.contracts` shape).
        region: a region the policy names (see :func:`check_region`).
        policy: the privacy policy.

    Raises:
        RegionCannotServe: a required field is one ``region`` may not hold (each named, with the
            regions that may hold them all).
    """
    required = [name for name, spec in contract["fields"].items() if spec.get("required", False)]
    held = [name for name in required if region not in policy.fields.get(name, ())]
    if held:
        allowed = sorted(set(policy.regions).intersection(*(policy.fields.get(name, ()) for name in held)))
        raise RegionCannotServe(f"region {region!r} may not hold {', '.join(held)}, which every record of "
                         f"{contract.get('decision', 'this decision')!r} must carry, so each would be refused "
                         f"(451); serve it in region {' or '.join(allowed) or '(none allows it)'} or without --region")


def check_region(region: str, policy: Policy) -> None:
    """Refuse a region the policy never names (a typo must not turn every record away silently).

    Raises:
        ValueError: ``region`` is not one of the policy's regions.
    """
    if region not in policy.regions:
        raise ValueError(f"unknown region {region!r}; the privacy policy names {', '.join(policy.regions)}")
