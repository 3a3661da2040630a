"""Scrub → validate → history: PII removed before storage, row rules with quarantine, history."""

from collections import Counter

import dagster as dg

from commons.staging import clear, take
from commons.warehouse import flatten
from data_quality.clean import scrub_records
from data_quality.quarantine import scrub_quarantine_row
from data_quality.rules import INTAKE_OF_RULE_SET, rule_set_of, split_valid
from orchestration.partitions import CRAWL_PARTITIONS
from orchestration.resources import StagingResource, WarehouseResource

QUALITY_GROUP = "quality"
STAGED = ("raw_harvest", "raw_reviews", "raw_pushed")
# The warehouse's intake tag of a harvest-partition row, by the rule set it answers to.


@dg.asset(group_name=QUALITY_GROUP, deps=[*STAGED, "pii_name_tagger"], kinds={"duckdb"},
          partitions_def=CRAWL_PARTITIONS,
          description="PII-free signal records (e-mails, phones, cards, IBANs, IPs, handles, names and "
                      "authors replaced by typed placeholders; names by the rules and, once built, the "
                      "learned name tagger). Raw staged rows are deleted here.")
def scrubbed_signals(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                     staging: StagingResource) -> dg.MaterializeResult:
    rows, quarantined, replacements, per_source = [], [], Counter(), {}
    for asset in STAGED:
        records, harvest_quarantine = take(staging.folder(asset, context.partition_key))
        scrubbed = scrub_records(records)
        replacements.update(scrubbed.replacements)
        rows += [flatten(r, context.run_id, INTAKE_OF_RULE_SET[rule_set_of(r)], context.partition_key)
                 for r in scrubbed.kept]
        quarantined += scrubbed.quarantined + [scrub_quarantine_row(q) for q in harvest_quarantine]
        per_source[asset] = {"in": len(records), "kept": len(scrubbed.kept),
                             "harvest_quarantined": len(harvest_quarantine)}
    wh = warehouse.get()
    stored = wh.write_signals("scrubbed_signals", context.partition_key, rows)
    by_stage = Counter(q["stage"] for q in quarantined)
    for stage in by_stage:
        wh.write_quarantine(context.run_id, stage, [q for q in quarantined if q["stage"] == stage])
    for asset in STAGED:
        clear(staging.folder(asset, context.partition_key))
    return dg.MaterializeResult(metadata={
        "rows": stored,
        "pii_replacements": dg.MetadataValue.json(dict(sorted(replacements.items()))),
        "pii_replacements_total": sum(replacements.values()),
        "quarantined_by_stage": dg.MetadataValue.json(dict(by_stage)),
        "per_intake_asset": dg.MetadataValue.json(per_source),
    })


@dg.asset(group_name=QUALITY_GROUP, deps=["scrubbed_signals"], kinds={"duckdb"}, partitions_def=CRAWL_PARTITIONS,
          description="Scrubbed records that pass their rule set's row rules; the rest quarantined with a "
                      "reason. GX suites run on this asset as blocking checks.")
def validated_signals(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    wh = warehouse.get()
    rows, quarantined, per_intake = [], [], {}
    for rule_set, intake in INTAKE_OF_RULE_SET.items():
        records = wh.signals("scrubbed_signals", "intake = ? AND partition_key = ?", [intake, context.partition_key])
        split = split_valid(records, rule_set)
        rows += [flatten(r, context.run_id, intake, context.partition_key) for r in split.kept]
        quarantined += split.quarantined
        per_intake[intake] = {"in": len(records), "valid": len(split.kept), "quarantined": len(split.quarantined)}
    wh.write_signals("validated_signals", context.partition_key, rows)
    wh.write_quarantine(context.run_id, "validate", quarantined)
    reasons = Counter(q["reason"] for q in quarantined)
    return dg.MaterializeResult(metadata={
        "rows": len(rows), "quarantined": len(quarantined),
        "quarantine_reasons": dg.MetadataValue.json(dict(reasons.most_common())),
        "per_intake": dg.MetadataValue.json(per_intake),
    })


@dg.asset(group_name=QUALITY_GROUP, deps=["validated_signals"], kinds={"duckdb"},
          description="Every observation of every harvest partition, as a change log per product (reviews: "
                      "unique by content digest); re-harvests of unchanged content add nothing.")
def signal_history(warehouse: WarehouseResource) -> dg.MaterializeResult:
    added, total = warehouse.get().append_history()
    return dg.MaterializeResult(metadata={"added": added, "rows": total})
