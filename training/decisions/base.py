"""What every micro-decision declares: labels, the pod's feature contract, the two views and how
labelled examples are built from signal history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import polars as pl

from commons.manifest import ORACLE_MODEL
from training.examples import Example


@dataclass(frozen=True)
class DecisionSpec:
    """One decision.

    Attributes:
        name: decision and registered-model name.
        labels: (negative class, alert class).
        contract: the pod's feature contract (commons.contracts); the same for edge and central.
        text_field: the string feature the encoder reads.
        window_field: the number_list feature holding the raw window, or None (text only).
        window: length of that window (the teacher's long view).
        student_window: how many of its most recent values the student reads (the edge's view).
        transform: training.numeric transform of the window.
        history: the slice of signal_history its examples are built from (a name of
            :data:`commons.warehouse.HISTORY_QUERIES`).
        examples: rows (polars frame of that slice) → (examples, rows without a label).
        label_rule: one sentence for model cards.
        oracle: kind of central oracle (:data:`commons.manifest.ORACLE_MODEL` or ``ORACLE_RULE``):
            ``rule`` where the truth is a computation over the contract's window
            (:data:`commons.label_rules.RULES`), so the central answers exactly and nothing is
            trained for it; ``model`` (a fine-tuned teacher) where it is a judgement on text.
        student_reads_text: False where the decision is a function of the window alone: the
            student is trained on, and its pod feeds it, an empty text, and the manifests list
            ``text_field`` as ignored (it stays in the contract, the record and its digest).
        train_only_sources: example sources trained on only, never calibrated or evaluated on
            (:func:`training.examples.split_examples`).
    """

    name: str
    labels: tuple[str, str]
    contract: dict[str, Any]
    text_field: str
    window_field: str | None
    window: int
    student_window: int
    transform: str | None
    history: str
    examples: Callable[[pl.DataFrame], tuple[list[Example], int]]
    label_rule: str
    oracle: str = ORACLE_MODEL
    student_reads_text: bool = True
    train_only_sources: tuple[str, ...] = ()

    def numeric(self, role: str) -> dict[str, Any] | None:
        """NumericBranch spec of the ``teacher`` or ``student`` (None for text-only decisions)."""
        if self.window_field is None:
            return None
        use = self.window if role == "teacher" else self.student_window
        return {"kind": self.transform, "width": self.window, "use": use}

    def manifest_inputs(self) -> dict[str, Any]:
        """Manifest keys telling a pod how records become model inputs."""
        keys: dict[str, Any] = ({"text_fields": [self.text_field]} if self.student_reads_text else
                                {"text_fields": [], "ignored_fields": [self.text_field]})
        if self.window_field is not None:
            keys["numeric_inputs"] = [{"field": self.window_field, "length": self.window}]
        return keys
