"""Price-history backfill as daily partitions, idempotent re-runs, and "price of P at time T"."""

from __future__ import annotations

import csv
import gzip
import os
from datetime import datetime, timezone
from decimal import Decimal

import dagster as dg
import pytest

from commons.settings import Settings

pytestmark = pytest.mark.slow  # trains models, crawls or starts processes

DAYS = ("2024-03-15", "2024-03-17")


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory, data_dir):
    from orchestration.definitions import build_definitions

    saved = os.environ.get("EDGE_INSIGHTS_STATE_DIR")
    os.environ["EDGE_INSIGHTS_STATE_DIR"] = str(tmp_path_factory.mktemp("backfill_state"))
    settings = Settings.from_env().ensure()
    job = build_definitions(settings).resolve_job_def("price_history_backfill")
    tags = {"dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[1]}
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    metadata = []
    with dg.DagsterInstance.get() as instance:
        for _ in range(2):
            result = job.execute_in_process(instance=instance, tags=tags, run_config=quiet)
            assert result.success
            mats = [e.event_specific_data.materialization for e in result.all_events
                    if e.event_type_value == "ASSET_MATERIALIZATION"]
            assert sorted(m.partition for m in mats) == ["2024-03-15", "2024-03-16", "2024-03-17"]
            metadata.append({k: getattr(v, "value", v) for k, v in mats[0].metadata.items()})
    yield settings, metadata
    os.environ["EDGE_INSIGHTS_STATE_DIR"] = saved
    Settings.from_env().ensure()


def _csv_rows(data_dir):
    with gzip.open(data_dir / "price_history_amazon_jp" / "observations.csv.gz", "rt", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            yield row["asin"], datetime.fromisoformat(row["timestamp"]), Decimal(row["price"])


def test_backfill_counts_and_idempotence(backfilled, data_dir):
    settings, (first, second) = backfilled
    in_range = [r for r in _csv_rows(data_dir) if DAYS[0] <= r[1].strftime("%Y-%m-%d") <= DAYS[1]]
    assert first["records"] + first["quarantined"] == len(in_range)
    assert first["added"] > 0 and second["added"] == 0
    assert second["history_rows"] == first["history_rows"]
    # Only price changes are stored: one row per product per distinct consecutive price.
    changes = 0
    last: dict[str, Decimal] = {}
    for asin, _, price in sorted(in_range, key=lambda r: (r[0], r[1])):
        changes += last.get(asin) != price
        last[asin] = price
    assert first["history_rows"] == changes


def test_price_at_time_matches_the_source(backfilled, data_dir):
    from commons.warehouse import Warehouse

    settings, _ = backfilled
    wh = Warehouse(settings.warehouse_path)
    rows = [r for r in _csv_rows(data_dir) if DAYS[0] <= r[1].strftime("%Y-%m-%d") <= DAYS[1]]
    asin = rows[len(rows) // 2][0]
    series = sorted((ts, price) for a, ts, price in rows if a == asin)
    for ts, price in series[:: max(1, len(series) // 5)]:
        answer = wh.price_at(asin, ts.isoformat())
        assert Decimal(answer["price"]) == price and answer["currency"] == "JPY"
    # Nothing before the backfilled range was loaded, so nothing is known before it.
    assert wh.price_at(asin, datetime(2024, 3, 15, tzinfo=timezone.utc).isoformat()) is None


@pytest.fixture(scope="module")
def replayed(tmp_path_factory, data_dir):
    """Two market-replay ticks crawled over HTTP into a fresh state folder, twice (idempotence)."""
    from orchestration.definitions import build_definitions

    saved = os.environ.get("EDGE_INSIGHTS_STATE_DIR")
    os.environ["EDGE_INSIGHTS_STATE_DIR"] = str(tmp_path_factory.mktemp("replay_state"))
    settings = Settings.from_env().ensure()
    job = build_definitions(settings).resolve_job_def("market_replay")
    tags = {"dagster/asset_partition_range_start": "2024-06-01", "dagster/asset_partition_range_end": "2024-06-02"}
    metadata = []
    with dg.DagsterInstance.get() as instance:
        for _ in range(2):
            result = job.execute_in_process(instance=instance, tags=tags,
                                            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
            assert result.success
            mat = next(e.event_specific_data.materialization for e in result.all_events
                       if e.event_type_value == "ASSET_MATERIALIZATION")
            metadata.append({k: getattr(v, "value", v) for k, v in mat.metadata.items()})
    yield settings, metadata
    os.environ["EDGE_INSIGHTS_STATE_DIR"] = saved
    Settings.from_env().ensure()


def test_replay_ticks_are_partitions_of_history(replayed, data_dir):
    from commons.warehouse import Warehouse
    from crawlers.replay import MarketReplay

    settings, (first, second) = replayed
    replay = MarketReplay(data_dir)
    quotes = [(book.product_id, replay.quote(path, 0), replay.quote(path, 1)) for path, book in replay.books.items()]
    changed = sum(1 for _, q0, q1 in quotes if q0 != q1)
    assert first["ticks"] == 2 and first["records"] == 2 * len(quotes)
    assert first["added"] == len(quotes) + changed and second["added"] == 0
    wh = Warehouse(settings.warehouse_path)
    keys = wh.frame("SELECT DISTINCT partition_key FROM signal_history ORDER BY 1")["partition_key"].to_list()
    assert keys == ["2024-06-01", "2024-06-02"] if changed else ["2024-06-01"]
    for product_id, q0, q1 in quotes[:10]:
        at0 = wh.price_at(product_id, MarketReplay.timestamp(0).isoformat())
        at1 = wh.price_at(product_id, MarketReplay.timestamp(1).isoformat())
        assert Decimal(at0["price"]) == q0.price and Decimal(at1["price"]) == q1.price
        assert at0["currency"] == "GBP"
