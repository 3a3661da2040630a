"""price_spike labels on a real Amazon price history, and the hybrid (text + numbers) export."""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict

import numpy as np
import pytest

from edge_export.bundle import PARITY_BOUND, build_bundle
from commons.manifest import load_manifest
from commons.label_rules import LONG_WINDOW, MAD_FLOOR, Z_THRESHOLD, price_spike, robust_z
from training.decisions.price_spike import SHORT_WINDOW, product_windows
from training.encoder import base_model_path, load_tokenizer, pretrained_classifier, student_from_teacher
from training.loop import Inputs

pytestmark = pytest.mark.slow  # builds models, reads whole data sets or starts processes


@pytest.fixture(scope="module")
def histories(data_dir):
    series: dict[str, list[float]] = defaultdict(list)
    with gzip.open(data_dir / "price_history_amazon_jp" / "observations.csv.gz", "rt", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            series[row["asin"]].append(float(row["price"]))
    with open(data_dir / "price_history_amazon_jp" / "products.csv", encoding="utf-8") as fh:
        titles = {row["asin"]: row["name"] for row in csv.DictReader(fh)}
    return series, titles


def _z_by_loop(prices: list[float], t: int) -> float:
    previous = np.log(prices[t - LONG_WINDOW:t])
    median = np.median(previous)
    mad = np.median(np.abs(previous - median))
    return 0.6745 * (np.log(prices[t]) - median) / max(mad, MAD_FLOOR)


def test_labels_are_onsets_of_robust_z_outliers(histories):
    series, _ = histories
    asin = max(series, key=lambda a: len(series[a]))
    prices = series[asin]
    windows = product_windows(np.array(prices))
    n = len(prices) - LONG_WINDOW - 1
    assert windows.long.shape == (n, LONG_WINDOW + 2) and windows.short.shape == (n, SHORT_WINDOW + 1)
    for k in (0, n // 2, n - 1):
        t = LONG_WINDOW + 1 + k
        assert windows.long[k, 0] == np.float32(prices[t]) and windows.long[k, 1] == np.float32(prices[t - 1])
        assert robust_z(np.log(np.array(prices[:t + 1])))[-1] == pytest.approx(_z_by_loop(prices, t))
        expected = abs(_z_by_loop(prices, t)) > Z_THRESHOLD and not abs(_z_by_loop(prices, t - 1)) > Z_THRESHOLD
        assert windows.labels[k] == int(expected)
    total = sum(len(w.labels) for w in map(product_windows, map(np.array, series.values())) if w is not None)
    alerts = sum(int(w.labels.sum()) for w in map(product_windows, map(np.array, series.values())) if w is not None)
    assert 0.005 < alerts / total < 0.05  # onsets are rare events, not every abnormal observation


def test_the_rule_on_a_contract_window_is_the_label(histories):
    """The central oracle's answer (the rule on the window a pod receives, float32 as stored and
    sent) is the training label, on every window of every real price history."""
    series, _ = histories
    checked = alerts = 0
    for prices in series.values():
        windows = product_windows(np.array(prices))
        if windows is None:
            continue
        answers = np.array([price_spike(w) for w in windows.long])
        assert (answers == windows.labels.astype(bool)).all()
        checked += len(answers)
        alerts += int(answers.sum())
    assert checked > 100_000 and alerts > 1000


def test_hybrid_student_exports_one_graph_with_parity(histories, tmp_path):
    series, _ = histories
    asin = sorted(series)[0]
    windows = product_windows(np.array(series[asin]))
    idx = np.linspace(0, len(windows.labels) - 1, 40).astype(int)
    # As shipped: the rule's statistic on the student's view, and the empty text its pod feeds it.
    inputs = Inputs([""] * len(idx), windows.long[idx])
    numeric = {"kind": "price_robust_z", "width": LONG_WINDOW + 2, "use": SHORT_WINDOW + 1}
    student = student_from_teacher(pretrained_classifier(2, seed=5, numeric=numeric), 1, numeric=numeric).eval()
    report = build_bundle(student, load_tokenizer(), base_model_path() / "tokenizer.json", inputs, tmp_path / "b",
                          max_length=32, min_agreement=0.0, metadata={"decision": "price_spike"})
    assert report.parity_max_abs_delta <= PARITY_BOUND
    import onnx

    graph = onnx.load(str(tmp_path / "b" / "model.onnx")).graph
    assert [i.name for i in graph.input] == ["input_ids", "attention_mask", "numeric"]
    assert load_manifest(tmp_path / "b")["quantization"] == "dynamic_int8"



def test_the_robust_z_branch_reads_the_rule_on_the_whole_window(histories):
    """On all 32 prices the branch's two rule features decide exactly the label (in-graph
    statistic == commons.label_rules); on the student's view they approximate it."""
    import torch

    from training.numeric import WindowFeatures

    series, _ = histories
    built = [w for w in map(product_windows, map(np.array, series.values())) if w is not None]
    long = np.concatenate([w.long for w in built])
    labels = np.concatenate([w.labels for w in built]).astype(bool)
    with torch.no_grad():
        full = WindowFeatures("price_robust_z", LONG_WINDOW + 2)(torch.as_tensor(long)).numpy()
        short = WindowFeatures("price_robust_z", LONG_WINDOW + 2, SHORT_WINDOW + 1)(torch.as_tensor(long)).numpy()
    # tanh(|z| - 3.5) > 0 ⇔ |z| > 3.5; float32 can flip a z within 1e-5 of the threshold
    decided = lambda f: (f[:, -2] > 0) & (f[:, -1] <= 0)  # noqa: E731
    assert (decided(full) == labels).mean() > 0.9999
    assert 0.98 < (decided(short) == labels).mean() < 1.0
