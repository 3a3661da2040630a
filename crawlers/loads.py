"""What one intake read turns into: signal records and quarantine rows, nothing lost between."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(kw_only=True)
class Load:
    """The outcome of reading one feed file, pushed batch or inbox.

    Attributes:
        records: ``SignalRecord.to_dict()`` dicts, in input order.
        quarantine: quarantine rows (shape: :func:`commons.quarantine.quarantine_row`).
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
