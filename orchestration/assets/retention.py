"""Retention: the privacy policy's periods applied to the warehouse, staging, inbox, decision logs and
the live loop's store.

Off the main job (its own ``retention_job``, on a daily schedule stopped by default): it removes
data, so it runs when an operator turns it on, never as a side effect of a training run.
"""

import time
from pathlib import Path

import dagster as dg

from commons.privacy_policy import load_policy
from commons.retention import AsOfError, StoreFolders, apply_retention, checked_reference_now
from orchestration.resources import (
    CrawlResource,
    DecisionLogResource,
    LiveStoreResource,
    StagingResource,
    TrainingResource,
    WarehouseResource,
)

PRIVACY_GROUP = "privacy"


class RetentionConfig(dg.Config):
    """``as_of``: the reference "now" rows are aged against (ISO 8601, UTC if naive); empty = the
    run's start. A drill on historical data sets it. ``allow_future``: accept an ``as_of`` later than
    now (as the command's ``--allow-future``)."""

    as_of: str = ""
    allow_future: bool = False


def store_folders(staging: StagingResource, crawl: CrawlResource, decision_log: DecisionLogResource,
                  live_store: LiveStoreResource) -> StoreFolders:
    """The file, chain and SQLite stores as the resources name them."""
    return StoreFolders(files={"staging": Path(staging.root), "inbox": Path(crawl.inbox_dir),
                               "crawl_logs": Path(crawl.crawls_dir), "run_logs": Path(crawl.logs_dir)},
                        chains={"decision_log": decision_log.path}, databases={"live": live_store.file})


@dg.asset(group_name=PRIVACY_GROUP, kinds={"duckdb"},
          description="Deletes (or folds into price_monthly) every row, file and decision-log day past the "
                      "privacy policy's retention (commons/privacy_policy.toml); expired chained files are "
                      "recorded in the control audit log so `audit verify` still passes.")
def retention(config: RetentionConfig, warehouse: WarehouseResource, staging: StagingResource,
              crawl: CrawlResource, decision_log: DecisionLogResource, live_store: LiveStoreResource,
              training: TrainingResource) -> dg.MaterializeResult:
    """Apply the policy as of ``config.as_of``.

    Raises:
        dagster.Failure: ``as_of`` is refused (:func:`checked_reference_now`); nothing is removed.
    """
    policy, start = load_policy(), time.perf_counter()
    try:
        now = checked_reference_now(config.as_of, policy, config.allow_future, names=("as_of", "allow_future: true"))
    except AsOfError as err:
        raise dg.Failure(description=f"retention refused: {err}", allow_retries=False) from None
    result = apply_retention(policy, warehouse.get(), store_folders(staging, crawl, decision_log, live_store), now,
                             training.audit())
    return dg.MaterializeResult(metadata={
        "as_of": now.isoformat(), "seconds": round(time.perf_counter() - start, 3), "removed_total": sum(r["removed"] for r in result.values()),
        **{f"removed_{name}": r["removed"] for name, r in result.items()},
        "aggregated": sum(r.get("aggregated", 0) for r in result.values()),
        "per_store": dg.MetadataValue.json(result)})
