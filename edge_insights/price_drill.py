"""The price_spike drift drill: a champion trained on one period of the real price histories, traffic
from that period and from a later one through real pods, then a retrain with the later period added
and the same held-out records through the champion and the retrained bundle.

Regimes, both real (``<data>/price_history_amazon_jp``: Amazon.co.jp list prices, see its
SOURCES.md; the shared data holds no other price market):

* **training period** — price changes observed before :data:`SHIFT_START` (2024-02-17 →
  2024-12-31): 2,079 labelled changes of 29 products (enough changes for the label rule's window),
  3.7 % of them spikes.
* **shifted** — changes observed from :data:`SHIFT_START` on (2025-01-01 → 2026-08-22): the watch
  list grew (9,504 labelled changes of 86 products, 62 of them without one before), and spikes are
  half as common again (5.7 %). A window of the shifted regime reaches back over the boundary: a
  price is judged against the 31 before it, whenever they were seen.

Both phases send only products the champion never trained on (absent from its ``train`` split), in
a seeded uniform sample of their regime. :func:`price_drill` runs the whole story on a state folder
that holds no price history from :data:`SHIFT_START` on: backfill the training period and train
(``retrain_job``, price_spike's chain only, the settings' preset), drill both phases
(:func:`edge_insights.drift_drill.drift_drill`), and, when the shifted phase requests a retrain,
backfill the shifted period and retrain the same way (released and signed like any bundle; the
promotion gate decides whether it is deployed). Then records of the shifted regime held out by both
models (their products in neither ``train`` split) go through each edge bundle with its rule central
pod at shadow rate 1, so every decision carries the edge model's own label and the rule's.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from commons.errors import OrchestrationError
from commons.settings import Settings
from commons.token_client import BearerAuth
from commons.warehouse import Warehouse
from edge_insights.demo import run_job, send_records
from edge_insights.drift_drill import drift_drill, wait_for_lines
from edge_insights.evaluate import price_changes
from edge_insights.pods import TokenPlane, running_pod, running_token_plane
from training.decisions.price_spike import SPEC
from training.examples import Example
from training.metrics import prf

DECISION = SPEC.name
SHIFT_START = date(2025, 1, 1)
"""First day of the shifted regime; the champion trains on the price history before it."""
PRICE_FOLDER = "price_history_amazon_jp"


def regime_examples(data_dir: Path, shift_start: date = SHIFT_START) -> tuple[list[Example], list[Example]]:
    """Every labelled price_spike example of the real histories, by when its current price was seen.

    Args:
        data_dir: folder laid out like ``shared/data`` (reads ``price_history_amazon_jp``).
        shift_start: the boundary (UTC day).

    Returns:
        (examples whose current price was observed before ``shift_start``, those observed from it
        on), each in product then time order; windows are 32 prices, newest first.
    """
    frame = price_changes(data_dir / PRICE_FOLDER)
    boundary = datetime.combine(shift_start, datetime.min.time(), tzinfo=UTC)
    before, _ = SPEC.examples(frame.filter(pl.col("crawled_at") < boundary))
    # A product's examples come in time order and a window only looks back, so the first n of its
    # whole series are exactly its n examples before the boundary.
    earlier = Counter(e.product_id for e in before)
    seen: Counter[str] = Counter()
    after = []
    for example in SPEC.examples(frame)[0]:
        seen[example.product_id] += 1
        if seen[example.product_id] > earlier[example.product_id]:
            after.append(example)
    return before, after


def trained_products(settings: Settings) -> set[str]:
    """Products of the current price_spike example snapshot's ``train`` split."""
    return Warehouse(settings.warehouse_path).feature_products(DECISION, "train")


#: Lists of product ids the returned outcome carries (the held-out proof) but the written file does
#: not: a state folder holds product keys only in the stores erasure reaches
#: (commons/privacy_policy.toml, ``[unkeyed]`` drift_drill).
PRODUCT_KEY_LISTS = ("product_ids", "train_products")


def _without_product_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_product_keys(v) for k, v in value.items() if k not in PRODUCT_KEY_LISTS}
    return value


def as_records(examples: list[Example]) -> list[dict[str, Any]]:
    """Pod request records (the price_spike contract: ``title``, 32 ``prices`` newest first)."""
    return [{SPEC.text_field: e.text, SPEC.window_field: list(e.window)} for e in examples]


def _sample(examples: list[Example], count: int, seed: int) -> list[Example]:
    return random.Random(seed).sample(examples, min(count, len(examples)))


def price_phases(settings: Settings, *, shift_start: date = SHIFT_START, per_phase: int = 600,
                 seed: int = 0) -> dict[str, list[dict[str, Any]]]:
    """price_spike drill traffic: ``{"in_distribution": records, "shifted": records}``.

    Args:
        settings: its ``data_dir`` holds the price histories; its warehouse the champion's example
            snapshot (products of its ``train`` split are left out of both phases).
        shift_start: first day of the shifted regime.
        per_phase: records per phase, a seeded uniform sample of the regime (fewer when it holds fewer).
        seed: the sample's seed.

    Returns:
        Records a price_spike pod accepts, in sample order.
    """
    trained = trained_products(settings)
    before, after = regime_examples(settings.data_dir, shift_start)
    return {phase: as_records(_sample([e for e in examples if e.product_id not in trained], per_phase, seed))
            for phase, examples in (("in_distribution", before), ("shifted", after))}


def _last_price_day(settings: Settings) -> str | None:
    """Last UTC day (ISO) of the price history in the state's warehouse; None when it holds none."""
    if not settings.warehouse_path.is_file():
        return None
    frame = Warehouse(settings.warehouse_path).history("prices")
    return None if frame.is_empty() else frame["crawled_at"].dt.convert_time_zone("UTC").dt.date().max().isoformat()


def _train(settings: Settings, days: list[str], tags: dict[str, str]) -> dict[str, Any]:
    """Backfill ``days`` of price history, then run price_spike's chain of ``retrain_job``.

    Raises:
        OrchestrationError: either run failed.
    """
    from orchestration.sensors import STAGES

    began = time.monotonic()
    loaded = run_job("price_history_backfill", settings, partition_range=(days[0], days[-1]))
    trained = run_job("retrain_job", settings, op_selection=",".join(f"{DECISION}__{s}" for s in STAGES), tags=tags)
    for outcome in (loaded, trained):
        if not outcome.success:
            raise OrchestrationError(f"run {outcome.run_id} failed: {'; '.join(outcome.failures)}")
    features = trained.assets[f"{DECISION}/signal_features"]
    registered = trained.assets[f"{DECISION}/registered_model"]
    return {"days": [days[0], days[-1]], "seconds": round(time.monotonic() - began, 1),
            "backfill_run_id": loaded.run_id, "retrain_run_id": trained.run_id,
            "examples": {k: features.get(k) for k in ("examples", "alerts", "train", "train_alerts", "eval", "eval_alerts")},
            "promoted": bool(registered.get("promoted")), "promotion": registered.get("promotion"),
            "model_version": registered.get("version"),
            "deployed": bool(trained.assets.get(f"{DECISION}/deployed_bundle", {}).get("deployed"))}


def measure(settings: Settings, edge_dir: Path, central_dir: Path, records: list[dict[str, Any]], log_dir: Path,
            plane: TokenPlane) -> dict[str, Any]:
    """Send ``records`` to an edge pod of ``edge_dir`` and its central pod at shadow rate 1.

    Every logged decision then holds the edge model's own label and the rule's (central's), routed or
    not, so the edge model is measured on every record.

    Returns:
        ``{"decisions", "disagreement": edge label ≠ rule over all, "kept_disagreement": the same over
        the records the edge decided (the population the drift test samples), "kept", "f1_edge": the
        edge model's own labels against the rule (precision, recall, f1), "f1_served": the answers
        (edge, or central where routed) against the rule, "rule_spikes", "bundle_sha256"}``.
    """
    shutil.rmtree(log_dir, ignore_errors=True)
    auth = BearerAuth(plane.client(f"drift-drill-{DECISION}", [DECISION]), DECISION)
    with running_pod(central_dir, settings, decision_log_dir=log_dir / "central", tokens=plane) as central_url, \
            running_pod(edge_dir, settings, central_url=central_url, shadow_rate=1.0,
                        decision_log_dir=log_dir / "edge", tokens=plane) as edge_url:
        send_records(edge_url, DECISION, records, batch_size=50, auth=auth)
        rows = wait_for_lines(log_dir / "edge", DECISION, len(records))
    alert = SPEC.labels[1]
    rule = np.array([r["central_label"] == alert for r in rows], dtype=int)
    edge = np.array([r["edge_label"] == alert for r in rows], dtype=int)
    served = np.array([r["label"] == alert for r in rows], dtype=int)
    kept = np.array([r["route"] == "edge" for r in rows])
    return {"decisions": len(rows), "disagreement": float((edge != rule).mean()),
            "kept_disagreement": float((edge != rule)[kept].mean()) if kept.any() else 0.0, "kept": int(kept.sum()),
            "f1_edge": prf(rule, edge), "f1_served": prf(rule, served), "rule_spikes": int(rule.sum()),
            "bundle_sha256": rows[0]["edge_bundle_sha256"] if rows else None}


def price_drill(settings: Settings, *, shift_start: date = SHIFT_START, per_phase: int = 600,
                held_out_limit: int = 1000, seed: int = 0, tokens: TokenPlane | None = None) -> dict[str, Any]:
    """Train a champion on the training period, drill it, retrain on the shifted one, compare.

    Args:
        settings: a state folder without price history from ``shift_start`` on (a fresh one will
            do); its preset sizes both trainings.
        shift_start: first day of the shifted regime.
        per_phase: records per drill phase (:func:`price_phases`).
        held_out_limit: records of the shifted regime, held out by both models, replayed through
            each (a seeded uniform sample).
        seed: seed of every sample.
        tokens: the running token endpoint (None: one is started for the drill).

    Returns:
        ``{"decision", "shift_start", "champion": training run summary with its ``train_products``,
        "drill": drift_drill(...)'s outcome, "retrain": training run summary or None (no request),
        "held_out": {"records", "products", "product_ids", "spikes"}, "before": measure(champion), "after":
        measure(retrained) or None (the gate refused it)}``; also written to
        ``<state>/drift_drill/price_spike/price_drill.json`` without the product id lists
        (:data:`PRODUCT_KEY_LISTS`).

    Raises:
        OrchestrationError: the state already holds price history from ``shift_start`` on, a run
            failed, or the gate refused the champion (so nothing is deployed to drill).
    """
    from orchestration.jobs import TRIGGER_TAG
    from orchestration.partitions import PRICE_HISTORY_PARTITIONS

    last = _last_price_day(settings)
    if last is not None and last >= shift_start.isoformat():
        raise OrchestrationError(f"the state folder {settings.state_dir} holds price history up to {last}: the "
                                 f"price drill needs one without history from {shift_start} on (a fresh one will do)")
    keys = PRICE_HISTORY_PARTITIONS.get_partition_keys()
    boundary = shift_start.isoformat()
    root = settings.state_dir / "drift_drill" / DECISION
    champion = _train(settings, [k for k in keys if k < boundary], {TRIGGER_TAG: "price-drill", "decision": DECISION})
    if not champion["deployed"]:
        raise OrchestrationError(f"no champion to drill: the model trained on {' → '.join(champion['days'])} was "
                                 f"not deployed ({champion['promotion']})")
    outcome: dict[str, Any] = {"decision": DECISION, "shift_start": boundary, "champion": champion}
    champion_trained = trained_products(settings)
    outcome["champion"]["train_products"] = sorted(champion_trained)
    with ExitStack() as stack:
        plane = tokens or stack.enter_context(running_token_plane(settings))
        outcome["drill"] = drift_drill(settings, DECISION, price_phases(settings, shift_start=shift_start,
                                                                         per_phase=per_phase, seed=seed),
                                       tokens=plane)
        request = outcome["drill"]["phases"]["shifted"]
        outcome |= {"retrain": None, "held_out": None, "before": None, "after": None}
        if request["request_after"] is not None:
            # The champion's signed bundles, kept aside: a promoted retrain replaces the deployed ones.
            before = root / "before"
            shutil.rmtree(before, ignore_errors=True)
            for slot in ("champion", "central"):
                shutil.copytree(settings.deploy_dir / DECISION / slot, before / slot)
            reasons = "; ".join(request["report"]["reasons"])
            outcome["retrain"] = _train(settings, [k for k in keys if k >= boundary],
                                        {TRIGGER_TAG: "drift", "decision": DECISION, "drift": reasons[:200]})
            trained = champion_trained | trained_products(settings)
            held = _sample([e for e in regime_examples(settings.data_dir, shift_start)[1]
                            if e.product_id not in trained], held_out_limit, seed)
            records = as_records(held)
            products = sorted({e.product_id for e in held})
            outcome["held_out"] = {"records": len(records), "products": len(products), "product_ids": products,
                                   "spikes": sum(e.label for e in held)}
            outcome["before"] = measure(settings, before / "champion", before / "central", records,
                                        root / "held_out_before", plane)
            if outcome["retrain"]["promoted"]:
                deployed = settings.deploy_dir / DECISION
                outcome["after"] = measure(settings, deployed / "champion", deployed / "central", records,
                                           root / "held_out_after", plane)
    root.mkdir(parents=True, exist_ok=True)
    (root / "price_drill.json").write_text(json.dumps(_without_product_keys(outcome), indent=2))
    return outcome
