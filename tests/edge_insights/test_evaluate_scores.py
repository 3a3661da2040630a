"""``evaluate``'s alert scores: a score the data leaves undefined is None, not 0.0."""

from __future__ import annotations

import numpy as np
import pytest

from edge_insights.evaluate import alert_scores


def test_scores_on_data_with_alerts():
    scores = alert_scores(np.array([1, 1, 0, 0, 1]), np.array([1, 0, 0, 1, 1]))
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 / 3)
    assert (scores["positives"], scores["predicted_positives"]) == (3, 3)


def test_no_alert_in_the_data_leaves_recall_and_f1_undefined():
    scores = alert_scores(np.array([0, 0, 0, 0]), np.array([0, 1, 0, 0]))
    assert scores["recall"] is None and scores["f1"] is None
    assert scores["precision"] == 0.0 and scores["positives"] == 0


def test_nothing_predicted_an_alert_leaves_precision_undefined():
    scores = alert_scores(np.array([1, 0, 0]), np.array([0, 0, 0]))
    assert scores["precision"] is None
    assert scores["recall"] == 0.0 and scores["f1"] == 0.0
