"""Market replay harvests: each replay tick (a simulated day) is a harvest partition.

The replay server serves the books mirror with prices and stock driven by real price histories
(:mod:`crawlers.replay`). A tick's crawl is observed at the tick's simulated instant
(``crawled_at`` = ``MarketReplay.timestamp(tick)``), so history answers "price at time T" in
replay time. A range of ticks runs as one run (one server, one crawl process per tick).
"""

import json
import shutil
import subprocess
import sys
from collections import Counter
from datetime import date

import dagster as dg

from crawlers.replay import SERIES_START, MarketReplay, serve_replay
from crawlers.run_crawl import STATS_FILE
from data_quality.pii import scrub_record
from data_quality.quarantine import assert_conserved
from data_quality.rules import split_valid
from edge_insights.settings import Settings
from orchestration.partitions import REPLAY_PARTITIONS
from orchestration.resources import WarehouseResource
from orchestration.staging import QUARANTINE, RECORDS, read_jsonl
from orchestration.warehouse import flatten


def tick_of(partition_key: str) -> int:
    """Replay tick of a daily partition key (days since the replay's tick 0)."""
    return (date.fromisoformat(partition_key) - SERIES_START.date()).days


@dg.asset(group_name="harvest", kinds={"scrapy", "duckdb"}, partitions_def=REPLAY_PARTITIONS,
          backfill_policy=dg.BackfillPolicy.single_run(),
          description="Crawls of the market replay (books mirror with real price movements), one partition "
                      "per simulated day, scrubbed, validated and appended to signal_history.")
def replay_harvest(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = Settings.from_env()
    wh = warehouse.get()
    rows, quarantined, per_tick = [], [], {}
    with serve_replay(MarketReplay(settings.data_dir)) as base_url:
        for key in context.partition_keys:
            tick = tick_of(key)
            out = settings.staging_dir / "replay_harvest" / key
            shutil.rmtree(out, ignore_errors=True)
            stats_dir = settings.state_dir / "crawls" / f"replay-{key}"
            stats_dir.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, "-m", "crawlers.run_crawl", "--start-url",
                            f"{base_url}tick/{tick}/index.html", "--out", str(out),
                            "--crawl-id", f"replay:{key}:{context.run_id}", "--log-file",
                            str(stats_dir / "crawl.log")], check=True)
            shutil.copy(out / STATS_FILE, stats_dir / STATS_FILE)
            observed_at = MarketReplay.timestamp(tick).isoformat()
            records = [{**r, "crawled_at": observed_at} for r in read_jsonl(out / RECORDS)]
            clean = [scrub_record(r)[0] for r in records]
            split = split_valid(clean, "books")
            assert_conserved(len(records), split.kept, split.quarantined)
            rows += [flatten(r, context.run_id, "books", key) for r in split.kept]
            quarantined += read_jsonl(out / QUARANTINE) + split.quarantined
            per_tick[key] = json.loads((out / STATS_FILE).read_text())
            shutil.rmtree(out, ignore_errors=True)
    added, total = wh.append_rows_to_history(context.run_id, rows)
    wh.write_quarantine(context.run_id, "replay", quarantined)
    reasons = Counter(q["reason"] for q in quarantined)
    return dg.MaterializeResult(metadata={
        "ticks": len(per_tick), "records": len(rows), "added": added, "history_rows": total,
        "quarantined": len(quarantined), "quarantine_reasons": dg.MetadataValue.json(dict(reasons)),
        "pages": sum(s["pages"] for s in per_tick.values())})
