"""The deployed champion's drift baseline, as the drift sensor and the demo's "drift now" read it.

One reader, so a manifest the sensor skips (unreadable, or a baseline it cannot tie to a bundle) is
skipped the same way wherever drift is assessed, and only for that decision.
"""

from __future__ import annotations

import json
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
            is no object or no ``bundle_sha256`` string to tie the evidence window to.
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
    return manifest["bundle_sha256"], manifest["drift_baseline"]
