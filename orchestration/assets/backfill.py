"""History backfill: the real Amazon price histories loaded as daily partitions of signal history.

Pushed history goes through the same contract as any pushed batch (crawlers.intake), the same
scrub and row rules as a crawl (data_quality.clean), and lands in ``signal_history`` with its
observation time, so a backfilled day is indistinguishable from a harvested one. A backfill of
many days runs as one run (``BackfillPolicy.single_run``): the file is streamed once for the range.
"""

from collections import Counter

import dagster as dg

from commons.warehouse import flatten
from crawlers.intake.price_history import price_history_batches
from data_quality.clean import scrub_and_validate
from orchestration.partitions import PRICE_HISTORY_PARTITIONS
from orchestration.resources import CrawlResource, WarehouseResource


@dg.asset(group_name="harvest", kinds={"duckdb"}, partitions_def=PRICE_HISTORY_PARTITIONS,
          backfill_policy=dg.BackfillPolicy.single_run(),
          description="Real Amazon.co.jp price histories, one daily partition per UTC day, validated and "
                      "appended to signal_history (idempotent by content digest).")
def price_history(context: dg.AssetExecutionContext, crawl: CrawlResource,
                  warehouse: WarehouseResource) -> dg.MaterializeResult:
    keys = set(context.partition_keys)
    rows, quarantined, days = [], [], Counter()
    for day, records, bad in price_history_batches(crawl.price_history_path, crawl.price_products_path):
        if day not in keys:
            continue
        split = scrub_and_validate(records, "offer")
        rows += [flatten(r, context.run_id, "prices", day) for r in split.kept]
        quarantined += bad + split.quarantined
        days[day] = len(split.kept)
    wh = warehouse.get()
    added, total = wh.append_rows_to_history(context.run_id, rows)
    wh.write_quarantine(context.run_id, "backfill", quarantined)
    return dg.MaterializeResult(metadata={
        "partitions": len(keys), "days_with_data": len(days), "records": len(rows), "added": added,
        "history_rows": total, "quarantined": len(quarantined)})
