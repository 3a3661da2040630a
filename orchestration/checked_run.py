"""Which materialisation a data check of ``validated_signals`` evaluates.

Its rows are tagged with the run that wrote them, so a check reads them by that run's id. The run the
check executes in is not always that run: the UI's "Execute checks" (or any run selecting only the check
keys) starts a run of its own that wrote nothing. So the check asks the instance which run last
materialised the asset instead.
"""

from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class CheckedRun:
    """The run whose materialisation of the checked asset a check evaluates."""

    run_id: str
    partition: str | None

    def metadata(self) -> dict[str, str]:
        """The check result's metadata naming what was checked (``checked_run_id``, ``checked_partition``;
        the partition "" for an unpartitioned materialisation)."""
        return {"checked_run_id": self.run_id, "checked_partition": self.partition or ""}

    def __str__(self) -> str:
        return f"run {self.run_id}" + (f" (partition {self.partition})" if self.partition else "")


def checked_run(context: dg.AssetCheckExecutionContext) -> CheckedRun | dg.AssetCheckResult:
    """The run that last materialised the checked asset: of the run's partition where the run has one
    (the materialising run itself, or a run of the checks alone launched for a partition), else of any
    partition (the UI's "Execute checks" on these unpartitioned checks).

    Returns:
        The :class:`CheckedRun`, or a failed :class:`dagster.AssetCheckResult` saying the asset (that
        partition) was never materialised, for the check to return as it is.
    """
    asset_key = context.check_specs[0].asset_key
    partition = context.partition_key if context.has_partition_key else None
    found = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition] if partition else None), limit=1)
    if not found.records:
        where = f" for partition {partition}" if partition else ""
        return dg.AssetCheckResult(
            passed=False, metadata={"checked_run_id": "", "checked_partition": partition or ""},
            description=f"{asset_key.to_user_string()} was never materialised{where}: nothing to check")
    record = found.records[0]
    return CheckedRun(record.run_id, record.partition_key)
