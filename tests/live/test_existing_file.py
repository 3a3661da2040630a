"""Reading the live store's existing file (``existing_store``, the ``insights_observer``): in its own
folder a read leaves an empty log and index that the next writer takes over; from a folder the reader
cannot write it still reads every commit, and writes nothing there."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from live.store import LiveStore, existing_store
from unwritable import run_without_write

READ = ("import json, sys; from pathlib import Path; from live.store import existing_store; "
        "print(json.dumps(existing_store(Path(sys.argv[1])).query("
        "'SELECT count(*) AS n, max(published) AS newest FROM insights')[0]))")


def _publish(store: LiveStore, published: list[float]) -> None:
    with store.transaction() as con:
        for at in published:
            seq = con.execute("SELECT count(*) FROM insights").fetchone()[0] + 1
            con.execute("INSERT INTO insights(insight_id, change_id, decision, label, score, route, alert, product_id, "
                        "url, kind, changed_at, decided_at, published_at, signal_digest, received_at, published) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (f"i-{seq}", f"c-{seq}", "price_spike", "spike", 0.9, "edge", 1, "B0BXSKY533",
                         "https://shop.example/B0BXSKY533", "price", "t", "t", "t", "d", at, at))


def _write_and_close(path: Path, published: list[float]) -> None:
    """Publish insights at ``published`` into the live store at ``path`` (created if new) and close its
    writer: the file alone stays, as a stopped watcher leaves it."""
    store = LiveStore(path)
    _publish(store, published)
    store.close()
    assert sorted(p.name for p in path.parent.iterdir()) == ["live.sqlite"]


def _read_from_unwritable_folder(path: Path) -> dict:
    """``existing_store``'s read of ``path`` by a process that may not write the store's folder."""
    done = run_without_write(path.parent, [sys.executable, "-c", READ, str(path)], cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_read_leaves_an_empty_log_and_index_that_the_next_writer_takes_over(tmp_path):
    path = tmp_path / "live.sqlite"
    _write_and_close(path, [1796310000.5, 1796310323.25])
    reader = existing_store(path)
    assert reader.query("SELECT count(*) AS n FROM insights") == [{"n": 2}]
    reader.close()
    assert {p.name: p.stat().st_size for p in tmp_path.iterdir() if p.name != "live.sqlite"} == {
        "live.sqlite-wal": 0, "live.sqlite-shm": 32768}
    _write_and_close(path, [1796310400.0])
    assert existing_store(path).query("SELECT count(*) AS n FROM insights") == [{"n": 3}]


def test_a_store_its_writer_closed_is_read_from_a_folder_the_reader_cannot_write(tmp_path):
    path = tmp_path / "live.sqlite"
    _write_and_close(path, [1796310000.5, 1796310323.25])
    assert _read_from_unwritable_folder(path) == {"n": 2, "newest": 1796310323.25}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.sqlite"]


def test_a_store_a_writer_has_open_is_read_with_the_commits_still_in_its_log(tmp_path):
    writer = LiveStore(tmp_path / "live.sqlite")
    _publish(writer, [1796310000.5, 1796310323.25])
    assert (tmp_path / "live.sqlite-wal").stat().st_size > 0  # not yet moved into the file
    assert _read_from_unwritable_folder(writer.path) == {"n": 2, "newest": 1796310323.25}
