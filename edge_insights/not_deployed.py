"""What a command says when a decision has no deployed bundle: why, and what to do next.

A state folder without a deployment has either never run the pipeline, or ran it and the promotion
gate refused the decision's challenger (:mod:`training.gates`): re-running the demo is the advice
for the first, the gate's own reason (kept in ``demo_summary.json``) for the second.
"""

from __future__ import annotations

import json
from pathlib import Path

from commons.settings import Settings

SUMMARY = "demo_summary.json"


def not_deployed(settings: Settings, decision: str, where: Path) -> str:
    """One line: nothing is deployed for ``decision`` at ``where``, and why when the last demo of
    ``settings.state_dir`` recorded the gate refusing it."""
    try:
        registry = json.loads((settings.state_dir / SUMMARY).read_text("utf-8"))["decisions"][decision]["registry"]
    except (OSError, ValueError, KeyError, TypeError):
        registry = None
    if isinstance(registry, dict) and registry.get("promoted") is False:
        return (f"nothing deployed at {where}: the promotion gate refused {decision}'s challenger "
                f"(version {registry.get('version')}: {registry.get('promotion')}); it is registered in MLflow "
                "with alias challenger only. Serve another decision, or retrain (`make demo` on a fresh state "
                "folder, or the Dagster job) and let the gate decide again")
    return f"nothing deployed at {where}: run `make demo` first"
