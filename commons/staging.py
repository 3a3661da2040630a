"""Raw intake staging: JSON-lines files handed from an intake asset to the scrub asset.

Raw records may hold PII (reviewer names, e-mails in texts). They are never written to the
warehouse: the intake asset stages them under ``<state>/staging/<asset>/`` and the scrub asset
deletes the staging folder once the scrubbed rows are stored.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from commons.errors import OrchestrationError

# The file names of a staged intake, shared by the crawl that writes them and the scrub that reads them.
RECORDS = "items.jsonl"
QUARANTINE = "quarantine.jsonl"
STATS_FILE = "stats.json"


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write one JSON object per line (UTF-8)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file; a missing file reads as no rows."""
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


class StagingMissing(OrchestrationError, FileNotFoundError):
    """The scrub step found no staged intake: its intake asset was not materialised first."""


def take(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Read a staged intake (records, quarantine rows).

    Raises:
        StagingMissing: nothing is staged in ``folder``.
    """
    if not (folder / RECORDS).is_file():
        raise StagingMissing(f"no staged intake in {folder}: materialise its intake asset in the same "
                             "run as scrubbed_signals (raw rows are deleted once scrubbed)")
    return read_jsonl(folder / RECORDS), read_jsonl(folder / QUARANTINE)


def clear(folder: Path) -> None:
    """Delete a staged intake (raw rows must not outlive the scrub)."""
    shutil.rmtree(folder, ignore_errors=True)
