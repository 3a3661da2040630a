"""The deployed champion's drift baseline, as the drift sensor and the demo's "drift now" read it.

One reader, so a manifest the sensor skips (unreadable, or a baseline it cannot tie to a bundle) is
skipped the same way wherever drift is assessed, and only for that decision.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def deployed_baseline(manifest_path: Path) -> tuple[str, dict[str, Any]] | None:
    """The deployed champion's ``(bundle_sha256, drift_baseline)`` from its manifest; None when there
    is no manifest or it has no drift baseline (a bundle released before baselines).

    Only the fields drift assessment reads are checked, not the bundle's signature and file hashes
    (``evaluate``'s :func:`commons.bundle_signature.verify_bundle`): that would hash every model
    file on every tick, and the pods verify the bundle before serving it.

    Raises:
        ValueError: the manifest cannot be read, is no JSON object, or has a drift baseline that
            is no object or no ``bundle_sha256`` string to tie the evidence window to, or a baseline
            whose counts :func:`training.drift.assess` cannot read (:func:`_baseline_defect`).
    """
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ValueError(f"the deployed manifest {manifest_path} cannot be read: {err}") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"the deployed manifest {manifest_path} is no JSON object")
    if "drift_baseline" not in manifest:
        return None
    if not isinstance(manifest.get("bundle_sha256"), str) or not isinstance(manifest["drift_baseline"], dict):
        raise ValueError(f"the deployed manifest {manifest_path} lacks a bundle_sha256 string or a drift_baseline "
                         "object: redeploy the champion")
    if defect := _baseline_defect(manifest["drift_baseline"]):
        raise ValueError(f"the deployed manifest {manifest_path} has a drift_baseline {defect}: redeploy the champion")
    return manifest["bundle_sha256"], manifest["drift_baseline"]


def _baseline_defect(baseline: dict[str, Any]) -> str | None:
    """What makes ``baseline`` unreadable to :func:`training.drift.assess`, or None: an assessment of it
    would otherwise raise on every tick and stop the other decisions' too."""
    counts = [baseline.get(key) for key in ("disagreements", "n")]
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts) or counts[0] > counts[1]:
        return "without counts disagreements ≤ n (integers ≥ 0)"
    rate = baseline.get("disagreement")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or not 0 <= rate <= 1:
        return "without a disagreement rate in [0, 1]"
    if not isinstance(baseline.get("reference", {}), dict):
        return "whose reference is no object"
    return None
