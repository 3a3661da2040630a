"""Closing the loop: edge-vs-central divergence measured from the pods' decision logs."""


import dagster as dg

from edge_insights.settings import Settings
from orchestration.assets.models import DECISION
from training.divergence import divergence, read_decisions

FEEDBACK_GROUP = "feedback"


@dg.asset(group_name=FEEDBACK_GROUP, deps=["deployed_bundle"], kinds={"python"},
          description="Disagreement rate and JS divergence between edge and central labels, over every "
                      "logged decision where the central model was consulted (routed or shadow-sampled).")
def divergence_report() -> dg.MaterializeResult:
    report = divergence(read_decisions(Settings.from_env().decision_log_dir, DECISION))
    return dg.MaterializeResult(metadata=report.to_dict())
