"""The promotion gate: when may a challenger become champion?

All must hold, each measured on the same held-out evaluation split (products never trained on):
* where the central oracle is a model, the shipped student's F1 ≥ ``min_ratio`` × the teacher's F1
  (issue 4: 0.95); a rule oracle is exact, so no student is held to a fraction of it;
* it beats the non-neural baseline's F1 on the same inputs (training.baseline);
* it does not regress against the current champion, re-scored now on the same split — unless the
  champion learned from data since erased on request (a retrain the erasure sensor asked for): a
  model that must go is not a bar its replacement has to clear.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gate:
    """Outcome: ``passed`` and one human-readable line per criterion."""

    passed: bool
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def evaluate_gate(student_f1: float, teacher_f1: float | None, baseline_f1: float, champion_f1: float | None,
                  min_ratio: float, on_baseline: bool = True, champion_erased: bool = False) -> Gate:
    """Check the criteria: the teacher ratio only when ``teacher_f1`` is given (None = the oracle
    is a rule), the champion criterion only when there is a champion, the baseline criterion
    reported but not required when ``on_baseline`` is False, and the champion reported but not
    required when ``champion_erased`` (it learned from erased data)."""
    beats = student_f1 > baseline_f1
    checks = []
    if teacher_f1 is not None:
        ratio_ok = student_f1 >= min_ratio * teacher_f1
        checks.append((ratio_ok, f"student F1 {student_f1:.4f} {'≥' if ratio_ok else '<'} "
                                 f"{min_ratio:.2f} × teacher F1 {teacher_f1:.4f}"))
    checks.append((beats or not on_baseline,
                   f"student F1 {student_f1:.4f} {'>' if beats else '≤'} baseline F1 {baseline_f1:.4f}"
                   f"{'' if on_baseline else ' (not required)'}"))
    if champion_f1 is not None:
        checks.append((student_f1 >= champion_f1 or champion_erased,
                       f"challenger F1 {student_f1:.4f} {'≥' if student_f1 >= champion_f1 else '<'} "
                       f"champion F1 {champion_f1:.4f} on the same split"
                       f"{' (not required: the champion learned from erased data)' if champion_erased else ''}"))
    return Gate(all(ok for ok, _ in checks), tuple(text for _, text in checks))
