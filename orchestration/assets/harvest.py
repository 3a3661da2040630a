"""Intake assets: the books crawl (Scrapy in its own process via Dagster Pipes) and the review feed."""


import shutil
import sys
from contextlib import nullcontext
from pathlib import Path

import dagster as dg

from crawlers.feeds import feed_files, read_feed_file
from crawlers.intake.dropfolder import read_inbox
from crawlers.static_site import serve_folder
from edge_insights.settings import Settings
from crawlers.run_crawl import STATS_FILE
from orchestration.partitions import CRAWL_PARTITIONS
from orchestration.resources import CrawlResource
from orchestration.staging import RECORDS, QUARANTINE, read_jsonl, write_jsonl

HARVEST_GROUP = "harvest"


def staging_folder(asset: str, partition_key: str) -> Path:
    """Where an intake asset stages one partition's raw rows for the scrub step."""
    return Settings.from_env().staging_dir / asset / partition_key


@dg.asset(group_name=HARVEST_GROUP, kinds={"scrapy", "python"}, partitions_def=CRAWL_PARTITIONS,
          retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
          description="Books shop crawl: listing + detail pages → signal records (staged, pre-scrub). "
                      "404s and parse failures are quarantined, never fatal.")
def raw_harvest(context: dg.AssetExecutionContext, crawl: CrawlResource,
                pipes: dg.PipesSubprocessClient) -> dg.MaterializeResult:
    out = staging_folder("raw_harvest", context.partition_key)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    # No start_url: serve the shared mirror over real HTTP on loopback for this crawl only.
    server = serve_folder(crawl.mirror_dir) if not crawl.start_url else nullcontext(crawl.start_url)
    stats_dir = Settings.from_env().state_dir / "crawls" / context.partition_key
    log_file = stats_dir / "crawl.log"
    with server as base_url:
        start = base_url if crawl.start_url else f"{base_url.rstrip('/')}/index.html"
        command = [sys.executable, "-m", "crawlers.run_crawl", "--start-url", start,
                   "--out", str(out), "--crawl-id", context.run_id, "--log-file", str(log_file)]
        if crawl.max_pages:
            command += ["--max-pages", str(crawl.max_pages)]
        result = pipes.run(command=command, context=context).get_materialize_result()
    items, quarantined = read_jsonl(out / RECORDS), read_jsonl(out / QUARANTINE)
    # Per-crawl stats are kept with the partition; the staged rows are deleted after scrubbing.
    shutil.copy(out / STATS_FILE, stats_dir / STATS_FILE)
    return dg.MaterializeResult(metadata={
        **(result.metadata or {}),
        "records": len(items), "quarantined": len(quarantined), "staging": str(out),
        "crawl_log": str(log_file)})


@dg.asset(group_name=HARVEST_GROUP, kinds={"python"}, partitions_def=CRAWL_PARTITIONS,
          description="Pushed review feed (CSV/TSV/text files) → signal records (staged, pre-scrub).")
def raw_reviews(context: dg.AssetExecutionContext, crawl: CrawlResource) -> dg.MaterializeResult:
    out = staging_folder("raw_reviews", context.partition_key)
    shutil.rmtree(out, ignore_errors=True)
    records, quarantined, per_file = [], [], {}
    for path in feed_files(crawl.reviews_dir):
        load = read_feed_file(path, context.run_id, max_rows=crawl.max_reviews_per_file or None)
        records += load.records
        quarantined += load.quarantine
        per_file[path.name] = {"rows_in": load.rows_in, "records": len(load.records),
                               "quarantined": len(load.quarantine)}
    write_jsonl(out / RECORDS, records)
    write_jsonl(out / QUARANTINE, quarantined)
    return dg.MaterializeResult(metadata={
        "records": len(records), "quarantined": len(quarantined),
        "per_file": dg.MetadataValue.json(per_file), "staging": str(out)})


@dg.asset(group_name=HARVEST_GROUP, kinds={"python"}, partitions_def=CRAWL_PARTITIONS,
          description="Pushed signal batches (JSON Lines / CSV) from the drop folder <state>/inbox, where the "
                      "webhook intake also writes accepted batches; each file is ingested once.")
def raw_pushed(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    out = staging_folder("raw_pushed", context.partition_key)
    shutil.rmtree(out, ignore_errors=True)
    load = read_inbox(Settings.from_env().inbox_dir, context.run_id)
    write_jsonl(out / RECORDS, load.records)
    write_jsonl(out / QUARANTINE, load.quarantine)
    return dg.MaterializeResult(metadata={
        "records": len(load.records), "quarantined": len(load.quarantine), "files": len(load.files),
        "refused_files": sum(1 for f in load.files if f.status == "refused")})
