"""urgent_inventory on flat stock windows: the tiny student, trained on the market replay's real
stock series (pages rendered and parsed as a crawl parses them, stored in a warehouse's history),
shipped as the pipeline ships it (pruned, quantised, signed) and served by a real edge pod that
asks a real rule pod. A product flat at 0, 1 or 3 units is urgent by the label rule's level
branch; the replay never holds stock flat (history keeps changes), so only first-sight examples
teach it to the edge."""

from __future__ import annotations

import hashlib
import json

import httpx
import numpy as np
import pytest
from release_keys import session_signer

from commons.label_rules import LOW_STOCK
from commons.manifest import load_manifest
from commons.label_rules import urgent_inventory as rule
from commons.warehouse import Warehouse, flatten
from crawlers.items import BookPage
from crawlers.parsing import parse_book_detail
from crawlers.pipelines import normalise
from crawlers.replay import MarketReplay
from edge_export.release import build_edge_bundle
from edge_insights.broker_load import deploy_rule_pod
from edge_insights.pods import running_pod
from serving.inference import EdgeModel
from training.config import preset
from training.decisions.urgent_inventory import FIRST_SIGHT, SOURCE, SPARSE, SPEC, examples_from_history
from training.features import build_features
from training.model_store import ModelStore
from training.student import train_student
from training.teacher import train_teacher

pytestmark = pytest.mark.slow  # trains a model, starts processes

BOOKS, TICKS = 100, 30
FLAT_URGENT, FLAT_OK = (0, 1, 3), 40
URL = f"/v1/decisions/{SPEC.name}"


def replay_history(data_dir, wh: Warehouse) -> int:
    """Append ``TICKS`` daily crawls of the replay's first ``BOOKS`` books to the history; returns
    the rows added (observations that changed)."""
    replay = MarketReplay(data_dir)
    rows = []
    for tick in range(TICKS):
        key = MarketReplay.timestamp(tick).date().isoformat()
        for path in sorted(replay.books)[:BOOKS]:
            html = replay.render(tick, path)
            page = BookPage(f"http://replay.test/tick/{tick}/{path}", 200, hashlib.sha256(html).hexdigest(),
                            MarketReplay.timestamp(tick), parse_book_detail(html, path))
            record = normalise(page, source="books_toscrape", crawl_id=f"replay:{key}", spider_version="test")
            rows.append(flatten(record.to_dict(), "run", "books", key))
    return wh.append_rows_to_history("run", rows)[0]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory, data_dir):
    """(edge deploy folder, the warehouse, the titles of held-out products)."""
    root = tmp_path_factory.mktemp("urgent_flat")
    wh = Warehouse(root / "warehouse.duckdb")
    assert replay_history(data_dir, wh) > BOOKS * TICKS // 2
    cfg = preset("tiny", max_train_examples=640)  # traffic mostly sparse: 480 leave flat 3 units unsure
    build_features(wh, SPEC, cfg, "run")
    store = ModelStore(root / "models", SPEC.name)
    train_teacher(wh, SPEC, cfg, store, "tiny")
    train_student(wh, SPEC, cfg, store)
    edge = root / "edge"
    build_edge_bundle(wh, SPEC, cfg, store, edge, run_id="run", preset="tiny")
    session_signer().sign(edge)
    (edge / "release.json").write_text(json.dumps({"model_name": SPEC.name, "model_version": "1",
                                                   "alias": "champion", "run_id": "run"}))
    titles = sorted(set(wh.features(SPEC.name, "eval")["text"].to_list()))
    return edge, wh, titles


def flat_records(titles: list[str], level: float) -> list[dict]:
    return [{"title": t, "stock_counts": [float(level)] * SPEC.window} for t in titles]


def test_first_sight_examples_hold_the_series_levels_flat(shipped):
    """Every observation after a product's first adds its first-sight window: flat at the real
    count, labelled by the rule (urgent at ≤ 3 units, flat at 0–3 units all present)."""
    edge, wh, _ = shipped
    history = wh.history(SPEC.history)
    examples, _ = SPEC.examples(history)
    first_sight = [e for e in examples if e.source == FIRST_SIGHT]
    assert len(first_sight) == len(history) - history["product_id"].n_unique()
    assert all(len(set(e.window)) == 1 for e in first_sight)
    assert [e.label for e in first_sight] == [int(e.window[0] <= LOW_STOCK) for e in first_sight]
    assert {0.0, 1.0, 2.0, 3.0} <= {e.window[0] for e in first_sight if e.label}
    # Trained on only: calibration and eval keep the traffic's windows.
    stored = wh.frame("SELECT split, source, count(*) AS n FROM features WHERE decision = ? GROUP BY ALL",
                      [SPEC.name])
    assert sorted(stored.filter(stored["source"] == FIRST_SIGHT)["split"].to_list()) == ["train"]
    assert stored.filter(stored["split"] != "train")["n"].sum() > 100
    # nor in the shipped bundle's input-drift reference
    reference_n = load_manifest(edge)["drift_baseline"]["reference_n"]
    assert reference_n == stored.filter(~stored["source"].is_in(SPEC.train_only_sources))["n"].sum()


def test_sparse_examples_are_what_a_watcher_revisiting_every_few_ticks_sees(shipped):
    """Sparse windows: a window starts at the observation's own count, holds only levels that
    changed from one visit to the next and is labelled by the rule; among them are stock-outs right
    after a well-stocked visit, which daily windows never show. They are traffic (the live loop's),
    so every split holds them, and so does the drift reference."""
    edge, wh, _ = shipped
    examples, _ = examples_from_history(wh.history(SPEC.history))
    full = {(e.product_id, e.window[0]) for e in examples if e.source == SOURCE}
    sparse = [e for e in examples if e.source == SPARSE]
    assert len(sparse) > len(full) // 2
    assert all((e.product_id, e.window[0]) in full for e in sparse)
    assert [e.label for e in sparse] == [int(rule(np.array(e.window))) for e in sparse]
    for e in sparse:
        seen = list(e.window)
        while len(seen) > 1 and seen[-1] == seen[-2]:
            seen.pop()  # the padding
        assert all(a != b for a, b in zip(seen, seen[1:])), e.window
    assert any(e.window[0] == 0 and max(e.window[1:3]) > 2 * LOW_STOCK for e in sparse)
    stored = wh.frame("SELECT split, count(*) AS n, sum(label) AS alerts FROM features "
                      "WHERE decision = ? AND source = ? GROUP BY ALL ORDER BY split", [SPEC.name, SPARSE])
    assert stored["split"].to_list() == ["calibration", "eval", "train"]
    assert all(0 < alerts < n for n, alerts in zip(stored["n"], stored["alerts"]))
    assert SPARSE not in SPEC.train_only_sources


def test_sparse_views_span_restocks_as_the_watchers_windows_do(shipped):
    """The live watcher's windows mostly hold two restocks or more (86 % in a demo's live loop); the
    traffic examples (full-history and sparse windows) must hold them too, not only a product's last
    few observations: each observation gives several observers' views, spread over its whole known
    history. One view per observation, stepping 1–5 observations, left 16 % of these examples so."""
    _, wh, _ = shipped
    examples, _ = examples_from_history(wh.history(SPEC.history))
    traffic = [e for e in examples if e.source in (SOURCE, SPARSE)]
    restocks = [sum(a > b for a, b in zip(e.window, e.window[1:])) for e in traffic]
    assert np.mean([n >= 2 for n in restocks]) > 0.25


def test_the_shipped_edge_answers_urgent_on_flat_low_stock(shipped):
    """The edge model itself (the pod's own inference code on the signed, int8 bundle) says urgent
    for a flat window at 0, 1 and 3 units, and ok at 40, for every held-out title."""
    edge, _, titles = shipped
    model = EdgeModel(edge)
    for level in (*FLAT_URGENT, FLAT_OK):
        records = flat_records(titles, level)
        labels, probs = model.predict([r["title"] for r in records], [r["stock_counts"] for r in records])
        expected = SPEC.labels[int(rule(np.array(records[0]["stock_counts"])))]
        assert set(labels) == {expected}, (level, probs[:, 1].round(3).tolist())


def test_the_manifest_records_the_stock_counts_the_student_was_trained_on(shipped):
    """``trained_range``: min and max of every stock count in the train split's windows (first-sight
    views included: the student learned from them), the range a pod guards."""
    edge, wh, _ = shipped
    train = np.stack(wh.features(SPEC.name, "train")["numbers"].to_list())
    ranges = load_manifest(edge)["trained_range"]
    assert ranges == {"stock_counts": {"min": float(train.min()), "max": float(train.max())}}
    assert ranges["stock_counts"]["max"] < FLAT_OK  # the replay's books hold at most a few dozen


def test_the_served_answer_on_flat_low_stock_is_urgent(shipped, token_plane, tmp_path):
    """Edge pod + central rule pod over loopback, auth on: every flat-low window is answered
    urgent (at the edge, or by central where the edge is unsure), flat at 40 ok — by central, since
    40 units lie above every count the student was trained on (the out-of-range guard)."""
    edge, _, titles = shipped
    central_dir = deploy_rule_pod(tmp_path / "central", session_signer(), SPEC.name)
    client = token_plane.client("tester", [SPEC.name])
    with running_pod(central_dir, token_plane.settings, tokens=token_plane) as central, \
            running_pod(edge, token_plane.settings, central_url=central, tokens=token_plane) as url:
        answers = {}
        for level in (*FLAT_URGENT, FLAT_OK):
            reply = httpx.post(url + URL, json={"records": flat_records(titles, level)}, timeout=30.0,
                               headers={"Authorization": f"Bearer {client.token(SPEC.name)}"})
            assert reply.status_code == 200, reply.text
            answers[level] = {(d["label"], d["route"]) for d in reply.json()["decisions"]}
    for level in FLAT_URGENT:
        assert {label for label, _ in answers[level]} == {"urgent"}, answers[level]
    assert answers[FLAT_OK] == {("ok", "central")}
