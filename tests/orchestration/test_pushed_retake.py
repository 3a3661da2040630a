"""Pushed batches a failed run took are taken again by the next run of the partition."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import dagster as dg

from commons.settings import Settings
from commons.staging import RECORDS, read_jsonl
from orchestration.assets.harvest import raw_pushed
from orchestration.definitions import build_definitions

PARTITION = "2026-12-02-00:00"


def _pushed_rows(data_dir: Path, n: int) -> list[dict]:
    with gzip.open(data_dir / "price_history_amazon_jp" / "observations.csv.gz", "rt", encoding="utf-8",
                   newline="") as fh:
        return [{"source": "partner_jp", "url": f"https://www.amazon.co.jp/dp/{obs['asin']}",
                 "product_id": obs["asin"], "price": obs["price"], "currency": obs["currency"],
                 "availability": "in_stock", "crawled_at": obs["timestamp"]}
                for _, obs in zip(range(n), csv.DictReader(fh))]


def test_a_batch_whose_run_failed_before_the_scrub_is_taken_again(tmp_path, data_dir):
    settings = Settings(state_dir=tmp_path / "state", data_dir=data_dir)
    defs = build_definitions(settings)
    resources = {name: defs.resources[name] for name in ("crawl", "staging")}
    rows = _pushed_rows(data_dir, 5)
    (settings.inbox_dir / "partner-001.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    staged = settings.staging_dir / "raw_pushed" / PARTITION
    with dg.instance_for_test() as instance:
        first = dg.materialize([raw_pushed], resources=resources, partition_key=PARTITION, instance=instance)
        assert [r["product_id"] for r in read_jsonl(staged / RECORDS)] == [r["product_id"] for r in rows]
        # Its scrub step never ran (a failed run): the next run of the partition finds no file in the inbox
        # root, yet stages the batch again.
        second = dg.materialize([raw_pushed], resources=resources, partition_key=PARTITION, instance=instance)
    meta = second.asset_materializations_for_node("raw_pushed")[0].metadata
    assert (meta["records"].value, meta["unfinished_loads_retaken"].value) == (5, 1)
    assert [r["product_id"] for r in read_jsonl(staged / RECORDS)] == [r["product_id"] for r in rows]
    assert first.run_id != second.run_id
    assert not list(settings.inbox_dir.glob("*.jsonl"))
