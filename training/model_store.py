"""Local model store: the latest teacher and student of each decision and their measured state.

Layout under ``<state>/models/<decision>/``: ``teacher/``, ``student/`` (see
:func:`training.encoder.save_classifier`) and ``state.json`` — the metrics and facts each stage
recorded, read by the next stage (e.g. the promotion gate reads both F1 scores).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class ModelStore:
    """Folder-backed store for one decision.

    Attributes:
        root: ``<models>/<decision>/``.
        teacher_dir, student_dir: the saved models.
        teacher_logits_path: float32 [n_train, 2] teacher logits on the train split (the student's
            soft labels).
    """

    def __init__(self, root: Path, decision: str) -> None:
        self.root = Path(root) / decision
        self.root.mkdir(parents=True, exist_ok=True)
        self.teacher_dir = self.root / "teacher"
        self.student_dir = self.root / "student"
        self.teacher_logits_path = self.root / "teacher_logits.npy"

    def state(self) -> dict[str, Any]:
        path = self.root / "state.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def update(self, **entries: Any) -> dict[str, Any]:
        """Merge ``entries`` into ``state.json`` (top-level keys replaced) and return the state."""
        state = {**self.state(), **entries}
        (self.root / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True, default=str))
        return state

    def require(self, key: str) -> Any:
        """A recorded entry.

        Raises:
            KeyError: the stage that records ``key`` has not run yet.
        """
        state = self.state()
        if key not in state:
            raise KeyError(f"model store {self.root} has no {key!r}: materialise the upstream asset first")
        return state[key]
