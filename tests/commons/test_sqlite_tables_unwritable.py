"""The live store's tables as the privacy report and retention see them (``commons.sqlite_tables``), from a folder
the process cannot write (another user's state folder): counts and ages are read as they are; a deletion fails
naming the folder, and leaves every row and the folder as they were."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from commons.sqlite_tables import SqliteTables
from live.store import LiveStore
from unwritable import run_without_write

REPO = Path(__file__).resolve().parents[2]
QUARANTINED_AT = [1796310000.5, 1796310323.25, 1796399999.0]
CUTOFF = datetime.fromtimestamp(1796310400.0, timezone.utc)  # after the first two rows, before the third

READ = ("import json, sys; from datetime import datetime; from commons.sqlite_tables import SqliteTables; "
        "t = SqliteTables(sys.argv[1]); rows, oldest = t.held('quarantine', 'at'); "
        "print(json.dumps({'tables': t.tables(), 'rows': rows, 'oldest': oldest.isoformat(), "
        "'overdue': t.overdue('quarantine', 'at', datetime.fromisoformat(sys.argv[2])), "
        "'columns': sorted(t.columns('alerts')), 'mentions': t.mentions('quarantine', 'B0BXSKY533')}))")
EXPIRE = ("import sys; from datetime import datetime; from commons.sqlite_tables import SqliteTables; "
          "SqliteTables(sys.argv[1]).expire('quarantine', 'at', datetime.fromisoformat(sys.argv[2]))")


def _closed_store(path: Path) -> None:
    """A live store whose quarantine holds a row per :data:`QUARANTINED_AT`, its writer closed (the file alone)."""
    store = LiveStore(path)
    with store.transaction() as con:
        con.executemany("INSERT INTO quarantine(stage, url, reason, row, at) VALUES (?,?,?,?,?)",
                        [("harvest", "https://shop.example/B0BXSKY533", "http_404", None, at) for at in QUARANTINED_AT])
    store.close()


def test_counts_and_ages_are_read_from_a_folder_the_reader_cannot_write(tmp_path):
    path = tmp_path / "live.sqlite"
    _closed_store(path)
    done = run_without_write(tmp_path, [sys.executable, "-c", READ, str(path), CUTOFF.isoformat()], cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "tables": ["alerts", "changes", "deliveries", "insights", "meta", "observations", "products", "quarantine",
                   "webhook_cursors"],
        "rows": 3, "oldest": "2026-12-03T15:00:00.500000+00:00", "overdue": 2,
        "columns": ["alerted_at", "decision", "product_key", "value"], "mentions": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["live.sqlite"]


def test_a_deletion_there_fails_naming_the_folder_and_deletes_nothing(tmp_path):
    path = tmp_path / "live.sqlite"
    _closed_store(path)
    done = run_without_write(tmp_path, [sys.executable, "-c", EXPIRE, str(path), CUTOFF.isoformat()], cwd=REPO)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"PermissionError: [Errno 13] cannot change live.sqlite: its folder {tmp_path} is read-only to this process "
        "(SQLite writes its log beside the file); run as a user who may write that folder")
    assert SqliteTables(path).held("quarantine", "at")[0] == 3
