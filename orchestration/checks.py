"""Asset checks: GX suites and row conservation, blocking so bad data never reaches training."""


import dagster as dg
import pandas as pd

from data_quality.expectations import validate_frame
from orchestration.resources import WarehouseResource


def _suite_check(intake: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset="validated_signals", name=f"{intake}_expectations", blocking=True,
                    description=f"Great Expectations suite of the {intake} intake on validated rows.")
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        frame = warehouse.get().frame("SELECT * FROM validated_signals WHERE intake = ?", [intake])
        if frame.empty:
            return dg.AssetCheckResult(passed=False, metadata={"rows": 0},
                                       description=f"no validated {intake} rows")
        frame["price"] = pd.to_numeric(frame["price"])
        summary = validate_frame(frame, intake)
        return dg.AssetCheckResult(passed=summary.success, metadata=summary.to_metadata())

    return check


books_expectations = _suite_check("books")
reviews_expectations = _suite_check("reviews")


@dg.asset_check(asset="validated_signals", blocking=True,
                description="count in = count out + count quarantined, for the scrub and validate stages.")
def rows_conserved(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    wh = warehouse.get()
    scrubbed = int(wh.frame("SELECT count(*) AS n FROM scrubbed_signals")["n"][0])
    validated = int(wh.frame("SELECT count(*) AS n FROM validated_signals")["n"][0])
    run = wh.frame("SELECT run_id FROM validated_signals LIMIT 1")
    run_id = run["run_id"][0] if len(run) else context.run_id
    quarantined = int(wh.frame("SELECT count(*) AS n FROM quarantine WHERE run_id = ? AND stage = 'validate'",
                               [run_id])["n"][0])
    return dg.AssetCheckResult(passed=scrubbed == validated + quarantined,
                               metadata={"in": scrubbed, "out": validated, "quarantined": quarantined})
