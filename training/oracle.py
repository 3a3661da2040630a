"""A rule oracle's answers as logits, so distillation and the drift baseline treat both oracle
kinds alike (:data:`commons.manifest.ORACLE_RULE`)."""

from __future__ import annotations

import math

import numpy as np

from commons.label_rules import RULES
from training.decisions.base import DecisionSpec
from training.loop import Inputs

# log(0.99 / 0.01): a rule is certain, but soft targets of exactly 0 and 1 would give the
# temperature-scaled KD term (Hinton et al. 2015) nothing beyond the hard labels.
ORACLE_LOGIT = math.log(99.0)


def rule_logits(spec: DecisionSpec, inputs: Inputs) -> np.ndarray:
    """The decision's label rule on each example's window, as float32 logits ``[n, 2]``
    (``±ORACLE_LOGIT``, column 1 = the alert label).

    Raises:
        KeyError: the decision has no rule in :data:`commons.label_rules.RULES`.
        ValueError: the examples carry no number windows.
    """
    rule = RULES[spec.name]
    if inputs.numeric is None:
        raise ValueError(f"{spec.name} examples carry no number windows for its rule")
    alert = np.array([rule(window) for window in inputs.numeric], dtype=bool)
    return np.where(alert[:, None], [-ORACLE_LOGIT, ORACLE_LOGIT], [ORACLE_LOGIT, -ORACLE_LOGIT]).astype(np.float32)
