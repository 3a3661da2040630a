"""Retention drill: the privacy policy applied to a copy of a state folder, timed, then re-checked.

Copies the stores retention touches (warehouse, staging, inbox, decision logs, audit log and keys)
of ``--state`` (default: the environment's state folder, e.g. after ``make demo``) to a temporary
folder, counts what is past policy as of ``--as-of`` (ISO 8601; default now), applies
:func:`commons.retention.apply_retention` there (recording in the copy's control audit log), and
counts again: the goal is 0 after. The state folder itself is left as it was.

Run: ``.venv/bin/python benchmarks/retention_drill.py [--state var] [--as-of 2027-06-01]`` from the
repository root. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commons.control_audit import ControlAudit  # noqa: E402
from commons.privacy_policy import load_policy  # noqa: E402
from commons.retention import StoreFolders, apply_retention, overdue  # noqa: E402
from commons.settings import Settings  # noqa: E402
from commons.warehouse import Warehouse  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the drill; prints ``{"as_of", "overdue_before", "removed", "overdue_after", "seconds"}``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, default=None)
    parser.add_argument("--as-of", default="")
    args = parser.parse_args(argv)
    source = Settings.from_env(**({"state_dir": args.state} if args.state else {}))
    now = datetime.fromisoformat(args.as_of) if args.as_of else datetime.now(timezone.utc)
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Settings(state_dir=Path(tmp), data_dir=source.data_dir)
        for name in ("warehouse.duckdb", "staging", "inbox", "decision_log", "audit"):
            path = source.state_dir / name
            if path.is_dir():
                shutil.copytree(path, copy.state_dir / name, symlinks=True)
            elif path.is_file():
                shutil.copy2(path, copy.state_dir / name)
        policy, warehouse, folders = load_policy(), Warehouse(copy.warehouse_path), StoreFolders.of(copy)
        before = overdue(policy, warehouse, folders, now)
        start = time.perf_counter()
        result = apply_retention(policy, warehouse, folders, now, ControlAudit(copy.audit_dir))
        seconds = time.perf_counter() - start
        after = overdue(policy, warehouse, folders, now)
    print(json.dumps({"state": str(source.state_dir), "as_of": now.isoformat(), "overdue_before": before,
                      "removed": {k: v["removed"] for k, v in result.items()}, "overdue_after": after,
                      "seconds": round(seconds, 3)}))
    return 0 if not any(after.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
