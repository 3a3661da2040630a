"""Non-neural baselines on the same inputs the student sees: logistic regression.

Text-only decisions: TF-IDF word 1–2-grams of the text. Numeric decisions: the student's own
window features (the same transform as its numeric branch, :class:`training.numeric.WindowFeatures`)
— the baseline sees exactly the student's view. Class weights are balanced, like the students'
training sets, and its decision threshold is calibrated the same way (:func:`best_bias`).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from training.calibration import best_bias
from training.loop import Inputs
from training.metrics import prf
from training.numeric import WindowFeatures


def _features(spec_numeric: dict | None, inputs: Inputs) -> np.ndarray:
    with torch.no_grad():
        return WindowFeatures(spec_numeric["kind"], spec_numeric["width"], spec_numeric["use"])(
            torch.as_tensor(inputs.numeric, dtype=torch.float32)).numpy()


def baseline_f1(student_numeric: dict | None, train: Inputs, y_train: np.ndarray, calibration: Inputs,
                y_cal: np.ndarray, evaluation: Inputs, y_eval: np.ndarray) -> dict[str, float]:
    """Fit on train, calibrate the threshold on calibration, report P/R/F1 on evaluation."""
    if student_numeric is None:
        model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2),
                              LogisticRegression(max_iter=2000, class_weight="balanced"))
        x_train, x_cal, x_eval = train.texts, calibration.texts, evaluation.texts
    else:
        model = LogisticRegression(max_iter=2000, class_weight="balanced")
        x_train, x_cal, x_eval = (_features(student_numeric, i) for i in (train, calibration, evaluation))
    model.fit(x_train, y_train)
    cal = model.decision_function(x_cal)
    bias = best_bias(np.stack([np.zeros_like(cal), cal], axis=1), y_cal)
    return prf(y_eval, (model.decision_function(x_eval) + bias > 0).astype(int))
