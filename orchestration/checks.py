"""Asset checks: GX suites and row conservation, blocking so bad data never reaches training.

Checks run in the run that materialised ``validated_signals`` and look at that run's partition.
"""

import dagster as dg
import pandas as pd

from data_quality.expectations import validate_frame
from orchestration.resources import WarehouseResource


def _suite_check(intake: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset="validated_signals", name=f"{intake}_expectations", blocking=True,
                    description=f"Great Expectations suite of the {intake} intake on the partition's validated rows.")
    def check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        frame = warehouse.get().frame("SELECT * FROM validated_signals WHERE intake = ? AND run_id = ?",
                                      [intake, context.run.run_id])
        if frame.empty:
            return dg.AssetCheckResult(passed=False, metadata={"rows": 0},
                                       description=f"no validated {intake} rows in this run")
        frame["price"] = pd.to_numeric(frame["price"])
        summary = validate_frame(frame, intake)
        return dg.AssetCheckResult(passed=summary.success, metadata=summary.to_metadata())

    return check


books_expectations = _suite_check("books")
reviews_expectations = _suite_check("reviews")


@dg.asset_check(asset="validated_signals", blocking=True,
                description="count in = count out + count quarantined for the validate stage of the partition.")
def rows_conserved(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    wh = warehouse.get()
    keys = wh.frame("SELECT DISTINCT partition_key FROM validated_signals WHERE run_id = ?", [context.run.run_id])
    if keys.empty:
        return dg.AssetCheckResult(passed=False, description="validated_signals wrote no rows in this run")
    key = keys["partition_key"][0]
    def count(sql: str, params: list) -> int:
        return int(wh.frame(sql, params)["n"][0])

    scrubbed = count("SELECT count(*) AS n FROM scrubbed_signals WHERE partition_key = ?", [key])
    validated = count("SELECT count(*) AS n FROM validated_signals WHERE partition_key = ?", [key])
    quarantined = count("SELECT count(*) AS n FROM quarantine WHERE run_id = ? AND stage = 'validate'",
                        [context.run.run_id])
    return dg.AssetCheckResult(passed=scrubbed == validated + quarantined,
                               metadata={"partition": key, "in": scrubbed, "out": validated,
                                         "quarantined": quarantined})
