"""benchmarks/sparse_stock.py: the live loop's windows read from a real live store, and one student
trained alone (``--variant``) on a real replay history, scored on the pipeline's own split as the
gate scores it, on the live windows, and shipped (``--ship``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from benchmark_module import BENCHMARKS, load_benchmark
from test_urgent_inventory_flat import replay_history

from commons.settings import live_store_file
from commons.warehouse import Warehouse
from live.store import LiveStore
from training.config import preset
from training.decisions.urgent_inventory import SPEC
from training.features import build_features

# Windows the live loop sent, newest first, and the rule's label worked by hand (LOW_STOCK 3, drop ≤ half the
# median of the 7 before): 4 units after two restocks is ok (median 6), 2 units is low, 0 is a stock-out.
LIVE = {(4.0, 10.0, 0.0, 4.0, 12.0, 0.0, 6.0, 14.0): 0, (2.0, 16.0, 4.0, 5.0, 6.0, 8.0, 9.0, 10.0): 1,
        (0.0, 16.0, 0.0, 0.0, 2.0, 4.0, 6.0, 8.0): 1}


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("sparse_stock")


def live_store(path: Path) -> Path:
    """A live store holding the :data:`LIVE` urgent_inventory changes and one price_spike change."""
    store = LiveStore(path)
    for i, window in enumerate(LIVE):
        changes = [{"change_id": f"c{i}", "decision": SPEC.name, "kind": "stock", "before": None, "after": window[0],
                    "record": {"product_id": f"p{i}", "title": f"Book {i}", "stock_counts": list(window)},
                    "signal": {}, "received_at": float(i), "changed_at": "2026-12-05T00:00:00+00:00", "padded": 0}]
        if i == 0:
            changes.append({**changes[0], "change_id": "price", "decision": "price_spike",
                            "record": {"product_id": "p0", "title": "Book 0", "price_window": [9.0] * 8}})
        store.capture(f"http://shop.test/{i}", product_id=f"p{i}", etag=None, record={}, prices=[],
                      stocks=list(window), changes=changes, visited_at=float(i))
    store.close()
    return path


def test_live_examples_are_the_stores_urgent_inventory_windows_labelled_by_the_rule(bench, tmp_path):
    examples = bench.live_examples(live_store(tmp_path / "live.sqlite"))
    assert [(e.window, e.label, e.text, e.source) for e in examples] == \
        [(window, label, f"Book {i}", "live") for i, (window, label) in enumerate(LIVE.items())]
    assert bench.live_examples(tmp_path / "absent.sqlite") == []


@pytest.mark.slow  # trains a student
def test_one_variant_trains_alone_on_the_pipelines_split(tmp_path, data_dir):
    state = tmp_path / "state"
    wh = Warehouse(state / "warehouse.duckdb")
    replay_history(data_dir, wh)
    live_store(live_store_file(state))
    env = {**os.environ, "EDGE_INSIGHTS_STATE_DIR": str(state), "EDGE_INSIGHTS_DATA_DIR": str(data_dir)}
    subprocess.run([sys.executable, str(BENCHMARKS / "sparse_stock.py"), "--preset", "tiny", "--seed", "5",
                    "--variant", "sparse as traffic", "--ship"], env=env, check=True, capture_output=True,
                   timeout=900)
    [result] = json.loads((state / "benchmarks" / "sparse_stock-5-sparse_as_traffic.json").read_text())
    assert (result["variant"], result["seed"]) == ("sparse as traffic", 5)
    build_features(wh, SPEC, preset("tiny", seed=5), "run")  # the split the pipeline's gate scores
    evaluation = wh.features(SPEC.name, "eval")
    own = result["own_eval"]
    assert (own["n"], own["alerts"]) == (len(evaluation), int(evaluation["label"].sum()))
    assert own["edge_f1"] == pytest.approx(result["gate_f1"])
    assert own["baseline_f1"] == pytest.approx(result["gate_baseline_f1"])
    assert own["kept"]["n_all"] == len(evaluation) and 0 <= own["kept"]["disagreements"] <= own["kept"]["n"]
    live = result["live"]
    assert live["n"] == live["kept"]["n_all"] == len(LIVE) and live["alerts"] == sum(LIVE.values())
    assert result["shipped"]["drift_baseline"]["n_all"] == len(evaluation)
    assert 0 < result["shipped"]["f1"] <= 1
