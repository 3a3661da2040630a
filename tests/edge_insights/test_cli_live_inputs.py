"""The live loop's reading commands refuse values they cannot honour (exit 2 naming the option),
and ``insights --since`` compares instants, offsets included, on a real live store."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from edge_insights.cli import app
from live.store import LiveStore

NOON = datetime(2026, 12, 1, 12, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def state(tmp_path, monkeypatch):
    """A state folder whose live store holds one insight per hour from 10:00 to 13:00 UTC."""
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("EDGE_INSIGHTS_BROKER", raising=False)
    store = LiveStore(tmp_path / "live" / "live.sqlite")
    with store.transaction() as con:
        for hour in (-2, -1, 0, 1):
            at = NOON + hour * 3600
            con.execute("INSERT INTO insights(insight_id, change_id, decision, label, score, route, alert, "
                        "product_id, url, kind, before, after, changed_at, decided_at, published_at, signal_digest, "
                        "received_at, published) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (f"i{hour}", f"c{hour}", "price_spike", "spike", 0.9, "edge", 1, "p1", "http://shop.test/p1",
                         "price", "10.0", "30.0", "t", "t", datetime.fromtimestamp(at, timezone.utc).isoformat(),
                         "d", at, at))
    return tmp_path


@pytest.mark.parametrize(("since", "shown"), [
    ("2026-12-01T12:00:00+00:00", 2), ("2026-12-01T11:30:00+01:00", 3), ("2026-12-01T12:30:00", 1),
    ("2026-12-01", 4),
])
def test_insights_since_compares_instants(state, since, shown):
    done = CliRunner().invoke(app, ["insights", "--since", since])
    assert done.exit_code == 0 and f"{shown} insight(s) shown" in done.output, done.output
    # Each row leads with its insight id (what `explain` takes), the newest last.
    ids = [line.split()[1] for line in done.output.splitlines() if line.startswith("│ i")]
    assert ids == [f"i{hour}" for hour in (-2, -1, 0, 1)][-shown:], done.output


@pytest.mark.parametrize("command", [
    ["insights", "--since", "garbage"], ["insights", "--since", "2026-13-45"], ["insights", "--decision", "nope"],
    ["explain", "a" * 100_000], ["explain", "a\udcffb"], ["explain", " "],
])
def test_a_value_no_insight_can_match_is_refused(state, command):
    done = CliRunner().invoke(app, command)
    assert done.exit_code == 2 and "Invalid value" in done.output, done.output
    assert "a" * 1000 not in done.output


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--seconds-per-tick", "inf"], {}, "seconds_per_tick must be a positive number, got inf"),
    (["--products", "100000000"], {}, "Invalid value for '--products'"),
    (["--start-tick", "999999999"], {}, "start_tick must be <= 2913021 (9999-12-31, the"),
    ([], {"EDGE_INSIGHTS_DATA_DIR": "/nonexistent"}, "books mirror not found: /nonexistent"),
])
def test_market_refuses_what_it_cannot_serve(state, monkeypatch, args, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    done = CliRunner().invoke(app, ["market", *args, "--duration", "0.1"], terminal_width=200)
    assert done.exit_code == 2 and message in " ".join(done.output.split()), done.output


def test_insights_show_stock_levels_as_units_and_prices_with_their_decimals(state):
    """The store keeps a change's values as the capture made them, floats (the pods' inputs): the
    table shows a stock level as the count it is and a price as it was."""
    store = LiveStore(state / "live" / "live.sqlite")
    base = {"label": "urgent", "score": 0.9, "route": "edge", "alert": False, "product_id": "p2",
            "url": "http://shop.test/p2", "changed_at": "t", "decided_at": "t", "model_version": "1",
            "bundle_sha256": None, "received_at": NOON}
    store.publish([{**base, "insight_id": "s1", "change_id": "cs1", "decision": "urgent_inventory", "kind": "stock",
                    "before": 0.0, "after": 12.0, "signal_digest": "d1"},
                   {**base, "insight_id": "s2", "change_id": "cs2", "decision": "price_spike", "kind": "price",
                    "before": 10.0, "after": 51.77, "signal_digest": "d2"}], [])
    done = CliRunner().invoke(app, ["insights"])
    assert done.exit_code == 0, done.output
    changes = {line.split("│")[1].strip(): line.split("│")[9].strip() for line in done.output.splitlines()
               if line.startswith("│ s")}
    assert changes == {"s1": "stock: 0 → 12", "s2": "price: 10.0 → 51.77"}


@pytest.mark.parametrize("command", [["insights"], ["deliveries"], ["redeliver"], ["explain", "i0"]])
@pytest.mark.parametrize(("content", "message"), [
    (b"garbage\n", "cannot be read: file is not a database"),
    (b"", "holds none of the live loop's tables (an empty file)"),
])
def test_a_store_that_is_not_the_live_loops_is_one_error_line_and_left_as_it_is(state, command, content, message):
    path = state / "live" / "live.sqlite"
    # A new file, not the fixture's rewritten: SQLite shares one open file's state within a process.
    for name in ("live.sqlite", "live.sqlite-wal", "live.sqlite-shm"):
        (state / "live" / name).unlink(missing_ok=True)
    path.write_bytes(content)
    done = CliRunner().invoke(app, command)
    assert done.exit_code == 2, done.output
    assert " ".join(done.stderr.split()) == f"error: the live store at {path} {message}"
    # Reading never repairs: a schema written into an empty file would pass it off as an empty store.
    assert path.read_bytes() == content


def _flushed_change(state) -> None:
    """The change behind insight ``i0``, marked flushed to the warehouse."""
    signal = {"product_id": "p1", "title": "t", "crawled_at": "2026-12-01T12:00:00+00:00"}
    with LiveStore(state / "live" / "live.sqlite").transaction() as con:
        con.execute("INSERT INTO changes(change_id, url, product_id, decision, kind, record, signal, received_at, "
                    "changed_at, warehoused) VALUES ('c0', 'http://shop.test/p1', 'p1', 'price_spike', 'price', "
                    "'{}', ?, ?, 't', 1)", (json.dumps(signal), NOON))


@pytest.mark.parametrize(("content", "message"), [
    (None, "error: no warehouse at {path}: the input of insight i0 cannot be rebuilt without it"),
    (b"", "error: the warehouse at {path} cannot be read: IO Error: The file \"{path}\" exists, but it is not a "
          "valid DuckDB database file!"),
])
def test_explain_names_a_missing_or_damaged_warehouse(state, content, message):
    _flushed_change(state)
    path = state / "warehouse.duckdb"
    if content is not None:
        path.write_bytes(content)
    done = CliRunner().invoke(app, ["explain", "i0"])
    assert done.exit_code == 2, done.output
    # Not "the watcher has not flushed yet": the store marks the change flushed.
    assert " ".join(done.stderr.split()) == message.format(path=path)
    assert path.exists() == (content is not None)
