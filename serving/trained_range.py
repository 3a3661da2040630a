"""The out-of-range guard: the edge defers to central on inputs unlike its training data.

An edge bundle whose manifest holds ``trained_range`` (``{field: {"min", "max"}}``, written at
release from the training examples, :func:`edge_export.release.trained_range`) sends a record
holding any value of those numeric inputs outside that range to central as if the edge had
abstained, whatever its confidence: a student extrapolating past its training data can be
confidently wrong (the standard "defer to the oracle on inputs unlike the training data"). Such a
record is flagged ``out_of_range`` (counted by the pod per decision); without a central its edge
answer stands. A bundle without the key (older releases) routes on confidence alone.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from commons.manifest import TRAINED_RANGE, BundleError

from .contract import ModelInputs


def read_trained_range(manifest: dict[str, Any], inputs: ModelInputs) -> dict[str, tuple[float, float]]:
    """The manifest's ``trained_range``: per numeric input field, the (min, max) of the values the
    edge model was trained on.

    Returns:
        ``{field: (min, max)}``, empty when the manifest has no ``trained_range`` (bundles released
        before it: no out-of-range routing) or lists no field.

    Raises:
        BundleError: the entry is not ``{field: {"min": number, "max": number}}`` with finite
            min ≤ max over fields the model reads as numbers.
    """
    entry = manifest.get(TRAINED_RANGE)
    if entry is None:
        return {}
    numeric = {spec.field for spec in inputs.numeric_inputs}
    if not isinstance(entry, dict):
        raise BundleError(f"manifest {TRAINED_RANGE} must map numeric input fields to {{'min', 'max'}}")
    ranges = {}
    for field, bounds in entry.items():
        lo, hi = (bounds.get("min"), bounds.get("max")) if isinstance(bounds, dict) else (None, None)
        if field not in numeric or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                           and math.isfinite(v) for v in (lo, hi)) or lo > hi:
            raise BundleError(f"manifest {TRAINED_RANGE} entry {str(field)[:40]!r} must be a numeric input "
                              "field mapped to finite {'min', 'max'} with min ≤ max")
        ranges[field] = (float(lo), float(hi))
    return ranges


def outside_range(features: dict[str, Any], ranges: dict[str, tuple[float, float]]) -> bool:
    """Whether any value of a record's ranged numeric fields lies outside its (min, max), both ends
    included.

    Args:
        features: ``ModelInputs.features(record)`` of a contract-conforming record (a number or a
            list of numbers per numeric field).
        ranges: :func:`read_trained_range` of the bundle.
    """
    for field, (lo, hi) in ranges.items():
        # Compared as the graph reads them, float32, like the bounds taken from the training windows:
        # a book's 92.02 is then inside a range whose max is that same price.
        values = np.asarray(features[field], dtype=np.float32)
        if not ((values >= np.float32(lo)) & (values <= np.float32(hi))).all():
            return True
    return False
