"""Closing the loop: edge-vs-central divergence measured from the pods' decision logs."""

import dagster as dg

from orchestration.resources import DecisionLogResource
from training.decisions import DECISIONS
from training.divergence import divergence_reports

FEEDBACK_GROUP = "feedback"


@dg.asset(group_name=FEEDBACK_GROUP, deps=[dg.AssetKey([name, "deployed_bundle"]) for name in DECISIONS],
          kinds={"python"},
          description="Disagreement rate and JS divergence between edge and central labels on the uniform "
                      "shadow sample of each decision log (the measure drift is judged on), and apart on the "
                      "decisions routed to central, in all and per route reason (low confidence, out of the "
                      "trained range, …); with the log's lines counted by route and reason.")
def divergence_report(decision_log: DecisionLogResource) -> dg.MaterializeResult:
    reports = divergence_reports(decision_log.path, list(DECISIONS))
    return dg.MaterializeResult(metadata={
        **{f"{name}_disagreement_rate": r["shadow"]["disagreement_rate"] for name, r in reports.items()},
        "per_decision": dg.MetadataValue.json(reports)})
