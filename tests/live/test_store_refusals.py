"""The refused redirect in force as the embedded live store keeps it (``products.refused``): with its quarantine
row, across store objects (a restarted watcher's), until it ends; a store written before the column gains it."""

from __future__ import annotations

import sqlite3

from live.store import LiveStore

FLIP, TARGET = "https://shop.example/flip", "https://shop.example/target"
REASON = f"duplicate: redirected to {TARGET}"


def test_a_refusal_in_force_outlives_the_store_object_that_recorded_it_until_it_ends(tmp_path):
    first = LiveStore(tmp_path / "live.sqlite")
    first.add_products([FLIP, TARGET])
    first.refuse(FLIP, REASON)
    first.close()
    restarted = LiveStore(tmp_path / "live.sqlite")
    assert restarted.refusals() == {FLIP: REASON}
    assert restarted.query("SELECT stage, url, reason, row FROM quarantine") == [
        {"stage": "harvest", "url": FLIP, "reason": REASON, "row": '{"http_status": null}'}]
    restarted.end_refusal(FLIP)
    assert restarted.refusals() == {}
    restarted.refuse(FLIP, REASON)  # it came back: a row of its own
    assert restarted.counts()["quarantined"] == {REASON: 2}


def test_a_store_written_before_refusals_were_kept_gains_the_column_with_its_pages_as_they_were(tmp_path):
    path = tmp_path / "live.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE products (url TEXT PRIMARY KEY, product_id TEXT, etag TEXT, record TEXT, "
                    "prices TEXT NOT NULL DEFAULT '[]', stocks TEXT NOT NULL DEFAULT '[]', "
                    "visits INTEGER NOT NULL DEFAULT 0, changes INTEGER NOT NULL DEFAULT 0, last_visit REAL, "
                    "seeded INTEGER NOT NULL DEFAULT 0)")
        con.execute("INSERT INTO products(url, etag, visits) VALUES (?, 'W/\"1\"', 7)", (FLIP,))
    con.close()
    store = LiveStore(path)
    assert store.refusals() == {} and store.etags() == {FLIP: 'W/"1"'}
    store.refuse(FLIP, REASON)
    assert store.refusals() == {FLIP: REASON} and store.product(FLIP)["visits"] == 7
