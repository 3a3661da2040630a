"""The blocking checks of ``validated_signals`` in a run of the checks alone (the UI's "Execute checks"),
on a real Dagster instance and a real warehouse holding real books and reviews: they evaluate the run
that last materialised the asset, as the materialising run's own checks did."""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from decimal import Decimal

import dagster as dg
import pytest

from commons.record import Provenance, SignalRecord
from commons.warehouse import Warehouse, flatten
from crawlers.feeds import read_feed_file
from orchestration.assets.quality import validated_signals
from orchestration.checks import books_expectations, reviews_expectations, rows_conserved
from orchestration.resources import WarehouseResource

CHECKS = [books_expectations, reviews_expectations, rows_conserved]
PARTITIONS = ("2026-11-30-00:00", "2026-11-30-06:00")


def _books(data_dir, rows: int) -> list[dict]:
    with (data_dir / "books_toscrape" / "books_listing.csv").open(encoding="utf-8") as fh:
        listing = list(csv.DictReader(fh))[:rows]
    return [SignalRecord(
        source="books_toscrape", url=row["URL"], product_id=row["URL"], title=row["Title"],
        price=Decimal(row["Price"].lstrip("£")), currency="GBP",
        availability="in_stock" if row["Availability"] == "In stock" else "out_of_stock", stock_count=None,
        rating=float(row["Rate"]), review_text=None, crawled_at=datetime(2026, 11, 30, tzinfo=timezone.utc),
        provenance=Provenance("crawl-1", "books@1", 200, "0" * 64)).to_dict() for row in listing]


@pytest.fixture
def warehouse(tmp_path, data_dir) -> Warehouse:
    """A warehouse whose ``scrubbed_signals`` hold real rows in two harvest partitions: 30 and 20 books (the
    first of each priced 0, so the validate stage quarantines it) and 25 and 15 real UCI review sentences."""
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    sentences = read_feed_file(data_dir / "reviews/uci_sentiment_sentences/amazon_cells_labelled.txt",
                               "feed-1", max_rows=40).records
    for key, books, reviews in ((PARTITIONS[0], 30, sentences[:25]), (PARTITIONS[1], 20, sentences[25:])):
        offers = _books(data_dir, books)
        offers[0]["price"] = "0"
        wh.write_signals("scrubbed_signals", key, [flatten(r, "scrub-run", "books", key) for r in offers]
                         + [flatten(r, "scrub-run", "reviews", key) for r in reviews])
    return wh


def _run(instance: dg.DagsterInstance, warehouse: Warehouse, *, partition: str | None = None,
         checks_only: bool = False) -> dict[str, dg.AssetCheckEvaluation]:
    """One in-process run of ``validated_signals`` and its checks (or, ``checks_only``, of the checks
    alone: a run of its own id that writes no row); the checks' evaluations by name."""
    result = dg.materialize(
        [validated_signals, *CHECKS], instance=instance, partition_key=None if checks_only else partition,
        tags={"dagster/partition": partition} if checks_only and partition else None,
        selection=dg.AssetSelection.checks(*CHECKS) if checks_only else None, raise_on_error=False,
        resources={"warehouse": WarehouseResource(path=str(warehouse.path))})
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _outcome(evaluations: dict[str, dg.AssetCheckEvaluation]) -> dict[str, tuple[bool, dict]]:
    """(passed, metadata values) by check name."""
    return {name: (e.passed, {k: v.value for k, v in e.metadata.items()}) for name, e in evaluations.items()}


def test_a_run_of_the_checks_alone_evaluates_the_last_materialisation(warehouse):
    with dg.instance_for_test() as instance:
        first = _outcome(_run(instance, warehouse, partition=PARTITIONS[0]))
        second = _outcome(_run(instance, warehouse, partition=PARTITIONS[1]))
        alone = _outcome(_run(instance, warehouse, checks_only=True))
        first_alone = _outcome(_run(instance, warehouse, partition=PARTITIONS[0], checks_only=True))
        runs = [r.run_id for r in instance.get_runs()][::-1]
    assert len(set(runs)) == 4
    assert {name: passed for name, (passed, _) in alone.items()} == {
        "books_expectations": True, "reviews_expectations": True, "rows_conserved": True}
    # 20 books (one priced 0, quarantined) and 15 review sentences in the later partition.
    assert alone["rows_conserved"][1] == {"partition": PARTITIONS[1], "in": 35, "out": 34, "quarantined": 1,
                                          "checked_run_id": runs[1], "checked_partition": PARTITIONS[1]}
    assert alone == second
    assert {name: (m["checked_run_id"], m["checked_partition"]) for name, (_, m) in alone.items()} == {
        name: (runs[1], PARTITIONS[1]) for name in alone}
    # A run of the checks alone launched for a partition evaluates that partition's materialisation.
    assert first_alone == first
    assert first_alone["rows_conserved"][1]["in"] == 55
    assert first_alone["rows_conserved"][1]["checked_run_id"] == runs[0]


def test_a_run_of_the_checks_alone_before_any_materialisation_fails_saying_so(warehouse):
    with dg.instance_for_test() as instance:
        evaluations = _run(instance, warehouse, checks_only=True)
        for_partition = _run(instance, warehouse, partition=PARTITIONS[0], checks_only=True)
    assert {(n, e.passed, e.description) for n, e in evaluations.items()} == {
        (n, False, "validated_signals was never materialised: nothing to check") for n in
        ("books_expectations", "reviews_expectations", "rows_conserved")}
    assert {e.description for e in for_partition.values()} == {
        f"validated_signals was never materialised for partition {PARTITIONS[0]}: nothing to check"}
