"""Market replay harvests: each replay tick (a simulated day) is a harvest partition.

The replay server serves the books mirror with prices and stock driven by real price histories
(:mod:`crawlers.replay`). A tick's crawl is observed at the tick's simulated instant
(``crawled_at`` = ``MarketReplay.timestamp(tick)``), so history answers "price at time T" in
replay time. A range of ticks runs as one run (one server, one crawl process per tick).
"""

import shutil
from collections import Counter
from datetime import date

import dagster as dg

from commons.staging import QUARANTINE, RECORDS, read_jsonl
from commons.warehouse import flatten
from crawlers.replay import SERIES_START, MarketReplay, serve_replay
from data_quality.clean import scrub_and_validate
from orchestration.crawl import run_crawl
from orchestration.partitions import REPLAY_PARTITIONS
from orchestration.resources import CrawlResource, StagingResource, WarehouseResource


def tick_of(partition_key: str) -> int:
    """Replay tick of a daily partition key (days since the replay's tick 0)."""
    return (date.fromisoformat(partition_key) - SERIES_START.date()).days


@dg.asset(group_name="harvest", kinds={"scrapy", "duckdb"}, partitions_def=REPLAY_PARTITIONS,
          backfill_policy=dg.BackfillPolicy.single_run(),
          description="Crawls of the market replay (books mirror with real price movements), one partition "
                      "per simulated day, scrubbed, validated and appended to signal_history.")
def replay_harvest(context: dg.AssetExecutionContext, crawl: CrawlResource, staging: StagingResource,
                   warehouse: WarehouseResource, pipes: dg.PipesSubprocessClient) -> dg.MaterializeResult:
    rows, quarantined, per_tick = [], [], {}
    with serve_replay(MarketReplay(crawl.data_dir)) as base_url:
        for key in context.partition_keys:
            tick = tick_of(key)
            out = staging.folder("replay_harvest", key)
            shutil.rmtree(out, ignore_errors=True)
            per_tick[key] = run_crawl(context, pipes, start_url=f"{base_url}tick/{tick}/index.html", out_dir=out,
                                      crawl_id=f"replay:{key}:{context.run_id}",
                                      stats_dir=crawl.stats_dir(f"replay-{key}"))
            observed_at = MarketReplay.timestamp(tick).isoformat()
            records = [{**r, "crawled_at": observed_at} for r in read_jsonl(out / RECORDS)]
            split = scrub_and_validate(records, "offer")
            rows += [flatten(r, context.run_id, "books", key) for r in split.kept]
            quarantined += read_jsonl(out / QUARANTINE) + split.quarantined
            shutil.rmtree(out, ignore_errors=True)
    wh = warehouse.get()
    added, total = wh.append_rows_to_history(context.run_id, rows)
    wh.write_quarantine(context.run_id, "replay", quarantined)
    reasons = Counter(q["reason"] for q in quarantined)
    return dg.MaterializeResult(metadata={
        "ticks": len(per_tick), "records": len(rows), "added": added, "history_rows": total,
        "quarantined": len(quarantined), "quarantine_reasons": dg.MetadataValue.json(dict(reasons)),
        "pages": sum(s["pages"] for s in per_tick.values())})
