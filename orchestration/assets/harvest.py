"""Intake assets: the books crawl (Scrapy in its own process under Dagster Pipes), the review
feed and pushed batches, each staged (pre-scrub) for the partition's scrub step."""

import shutil
from contextlib import nullcontext

import dagster as dg

from commons.staging import QUARANTINE, RECORDS, read_jsonl, write_jsonl
from crawlers.feeds import feed_files, read_feed_file
from crawlers.intake.dropfolder import read_inbox
from crawlers.static_site import serve_folder
from orchestration.crawl import run_crawl
from orchestration.partitions import CRAWL_PARTITIONS
from orchestration.resources import CrawlResource, StagingResource

HARVEST_GROUP = "harvest"
# The inbox loads a raw_pushed staging folder holds, one {"crawl_id": …} per line.
LOADS = "loads.jsonl"


def _fresh(staging: StagingResource, asset: str, partition_key: str):
    folder = staging.folder(asset, partition_key)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@dg.asset(group_name=HARVEST_GROUP, kinds={"scrapy", "python"}, partitions_def=CRAWL_PARTITIONS,
          retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
          description="Books shop crawl: listing + detail pages → signal records (staged, pre-scrub). "
                      "404s and parse failures are quarantined, never fatal.")
def raw_harvest(context: dg.AssetExecutionContext, crawl: CrawlResource, staging: StagingResource,
                pipes: dg.PipesSubprocessClient) -> dg.MaterializeResult:
    out = _fresh(staging, "raw_harvest", context.partition_key)
    stats_dir = crawl.stats_dir(context.partition_key)
    # No start_url: serve the shared mirror over real HTTP on loopback for this crawl only.
    server = serve_folder(crawl.mirror_dir) if not crawl.start_url else nullcontext(crawl.start_url)
    with server as base_url:
        start = base_url if crawl.start_url else f"{base_url.rstrip('/')}/index.html"
        stats = run_crawl(context, pipes, start_url=start, out_dir=out, crawl_id=context.run_id,
                          stats_dir=stats_dir, max_pages=crawl.max_pages)
    items, quarantined = read_jsonl(out / RECORDS), read_jsonl(out / QUARANTINE)
    return dg.MaterializeResult(metadata={
        **stats, "records": len(items), "quarantined": len(quarantined), "staging": str(out),
        "crawl_log": str(stats_dir / "crawl.log")})


@dg.asset(group_name=HARVEST_GROUP, kinds={"python"}, partitions_def=CRAWL_PARTITIONS,
          description="Pushed review feed (CSV/TSV/text files) → signal records (staged, pre-scrub).")
def raw_reviews(context: dg.AssetExecutionContext, crawl: CrawlResource,
                staging: StagingResource) -> dg.MaterializeResult:
    out = _fresh(staging, "raw_reviews", context.partition_key)
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
def raw_pushed(context: dg.AssetExecutionContext, crawl: CrawlResource,
               staging: StagingResource) -> dg.MaterializeResult:
    # A staging folder still here belongs to a run whose scrub never finished: its loads' files
    # are taken again, or their rows would be in no table (the inbox gave them up already).
    unfinished = read_jsonl(staging.folder("raw_pushed", context.partition_key) / LOADS)
    out = _fresh(staging, "raw_pushed", context.partition_key)
    load = read_inbox(crawl.inbox_dir, context.run_id, unfinished=[u["crawl_id"] for u in unfinished])
    write_jsonl(out / RECORDS, load.records)
    write_jsonl(out / QUARANTINE, load.quarantine)
    write_jsonl(out / LOADS, [{"crawl_id": c} for c in dict.fromkeys(
        [*(u["crawl_id"] for u in unfinished), context.run_id])])
    return dg.MaterializeResult(metadata={
        "records": len(load.records), "quarantined": len(load.quarantine), "files": len(load.files),
        "refused_files": sum(1 for f in load.files if f.status == "refused"),
        "unfinished_loads_retaken": len({u["crawl_id"] for u in unfinished} - {context.run_id})})
