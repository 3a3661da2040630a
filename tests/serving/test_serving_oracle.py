"""A central pod whose oracle is the decision's label rule: sealed as the release step seals it,
opened by the pod's own loader, answering real price windows with their training labels."""

from __future__ import annotations

import csv
import gzip
import json
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import httpx
import numpy as np
import pytest

from commons.contracts import PRICE_SPIKE, PRICE_WINDOW
from commons.manifest import ORACLE_RULE, BundleError
from edge_export.release import release_window, write_rule_bundle
from release_keys import signed, trust_dir
from serving.bundle_model import open_bundle
from serving.inference import EdgeModel
from serving.oracle import RuleOracle
from test_serving_pod import running_pod
from training.decisions.price_spike import LABELS, product_windows

pytestmark = pytest.mark.slow  # starts a pod process


def _metadata(**changes) -> dict:
    return {"decision": "price_spike", "model_name": "price_spike", "labels": list(LABELS),
            "feature_contract": PRICE_SPIKE, "text_fields": ["title"],
            "numeric_inputs": [{"field": "prices", "length": PRICE_WINDOW}], "role": "central",
            "oracle": {"kind": ORACLE_RULE}, "temperature": 1.0, "thresholds": {"abstain": 0.0},
            **release_window(datetime.now(timezone.utc)), **changes}


def _deployed(folder: Path, **changes) -> Path:
    write_rule_bundle(folder, _metadata(**changes))
    signed(folder)
    (folder / "release.json").write_text(json.dumps({"model_name": "price_spike", "model_version": "2",
                                                     "alias": "central", "run_id": "test"}))
    return folder


@pytest.fixture(scope="module")
def windows(data_dir) -> tuple[list[dict], list[str]]:
    """Records (title + 32-price window, newest first) of two real products and their labels:
    every alert window and as many normal ones."""
    series: dict[str, list[float]] = defaultdict(list)
    with gzip.open(data_dir / "price_history_amazon_jp" / "observations.csv.gz", "rt", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            series[row["asin"]].append(float(row["price"]))
    records, labels = [], []
    for asin in sorted(series, key=lambda a: -len(series[a]))[:2]:
        w = product_windows(np.array(series[asin]))
        alerts = np.flatnonzero(w.labels == 1)
        for i in np.concatenate([alerts, np.flatnonzero(w.labels == 0)[:len(alerts)]]):
            records.append({"title": asin, "prices": [float(v) for v in w.long[i]]})
            labels.append(LABELS[int(w.labels[i])])
    return records, labels


def test_the_loader_opens_a_rule_central_and_a_graph_otherwise(tmp_path, edge_bundle):
    assert isinstance(open_bundle(_deployed(tmp_path / "rule"), trust_dir=trust_dir()), RuleOracle)
    assert isinstance(open_bundle(edge_bundle.path, trust_dir=trust_dir()), EdgeModel)


@pytest.mark.parametrize(("changes", "message"), [
    ({"decision": "negative_review", "model_name": "negative_review"}, "no label rule"),
    ({"oracle": {"kind": "model"}}, "is not 'rule'"),
])
def test_a_rule_bundle_that_cannot_answer_is_refused(tmp_path, changes, message):
    write_rule_bundle(tmp_path / "b", _metadata(**changes))
    with pytest.raises(BundleError, match=message):
        RuleOracle(tmp_path / "b")


def test_the_rule_pod_answers_the_training_labels(tmp_path, windows):
    records, labels = windows
    assert labels.count("spike") >= 20
    with running_pod(_deployed(tmp_path / "deploy"), tmp_path / "pod") as pod:
        health = httpx.get(f"{pod.url}/healthz").json()
        answers = httpx.post(f"{pod.url}/v1/decisions/price_spike",
                             json={"records": records}, timeout=30).json()["decisions"]
    assert (health["role"], health["oracle"]) == ("central", ORACLE_RULE)
    assert [a["label"] for a in answers] == labels
    assert {a["score"] for a in answers} == {1.0}
