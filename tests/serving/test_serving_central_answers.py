"""What an edge pod does with central's answers and with records unlike its training data.

Central here is a stand-in pod served on loopback (``ThreadingHTTPServer``, as the revocation tests
serve their lists): it answers ``/healthz`` as a central pod of the decision and each record with
its true signal digest, and can be told to corrupt chosen fields of chosen records the way a
broken or hostile central would (NaN and Infinity written by Python's ``json.dumps``, scores out
of [0, 1], objects, nulls, a 5 MB string). The edge pod is the real app over real test bundles
(``bundle_factory``), with its decision log and metrics; the route reasons it logs are checked on
``edge-insights serve`` processes on loopback, beside a real central pod or the stand-in.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import numpy as np
import pytest
from starlette.testclient import TestClient

from commons.manifest import BundleError
from release_keys import trust_dir
from serving.app import create_app
from serving.contract import model_inputs, signal_digest
from serving.inference import EdgeModel
from serving.router import CentralError, Router
from test_serving_pod import URL, as_central, read_log, resealed, running_pod, samples

pytestmark = pytest.mark.slow  # builds models

CENTRAL_SHA = "c0" * 32


class StandInCentral:
    """A central pod stand-in for one bundle's decision on 127.0.0.1.

    Attributes:
        url: its base URL.
        asked: the records of every decision request, in arrival order.
        corrupt: ``(record) -> {field: value}`` merged into that record's answer ({} = a good one).
    """

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.decision, self.labels = manifest["decision"], manifest["labels"]
        self.inputs = model_inputs(manifest, self.decision)
        self.asked: list[dict[str, Any]] = []
        self.corrupt: Callable[[dict[str, Any]], dict[str, Any]] = lambda record: {}
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._send({"status": "ok", "role": "central", "decision": stand_in.decision})

            def do_POST(self) -> None:
                records = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["records"]
                stand_in.asked.extend(records)
                self._send({"decisions": [stand_in.answer(r) for r in records]})

            def _send(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()  # allow_nan: NaN and Infinity go out as written
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def answer(self, record: dict[str, Any]) -> dict[str, Any]:
        """A well-formed central answer (the last label, score 1), with ``corrupt``'s changes."""
        digest = signal_digest(self.inputs.features(record))
        return {"decision": self.decision, "label": self.labels[-1], "score": 1.0, "route": "edge",
                "model_version": "9", "bundle_sha256": CENTRAL_SHA, "signal_digest": digest,
                "latency_ms": 0.5, **self.corrupt(record)}


@contextmanager
def stand_in_central(manifest: dict[str, Any]) -> Iterator[StandInCentral]:
    central = StandInCentral(manifest)
    threading.Thread(target=central.server.serve_forever, daemon=True).start()
    try:
        yield central
    finally:
        central.server.shutdown()
        central.server.server_close()


@contextmanager
def edge_pod(deploy_dir: Path, log_dir: Path, **options) -> Iterator[TestClient]:
    with TestClient(create_app(deploy_dir, trust_dir=trust_dir(), decision_log_dir=log_dir, **options)) as client:
        yield client


def fallbacks(client: TestClient, decision: str) -> float:
    found = samples(client.get("/metrics").text, "decisions_total")
    return sum(v for labels, v in found.items() if ("route", "fallback") in labels and ("decision", decision) in labels)


# ---- central answers that must not be served ------------------------------------------------

BAD_ANSWERS = {
    "score NaN": {"score": float("nan")},
    "score Infinity": {"score": float("inf")},
    "model_version NaN": {"model_version": float("nan")},
    "score -5": {"score": -5.0},
    "score 1e308": {"score": 1e308},
    "score true": {"score": True},
    "model_version object": {"model_version": {"v": 1}},
    "model_version too long": {"model_version": "9" * 129},
    "bundle_sha256 null": {"bundle_sha256": None},
    "bundle_sha256 5 MB": {"bundle_sha256": "a" * 5_000_000},
    "label unknown": {"label": "maybe"},
    "other digest": {"signal_digest": "0" * 64},
}


@pytest.fixture(scope="module")
def sure_and_unsure(edge_bundle) -> tuple[int, int, int]:
    """Indices of two reference sentences the edge is unsure of and one it is sure of."""
    abstain = edge_bundle.manifest["thresholds"]["abstain"]
    unsure = [i for i, c in enumerate(edge_bundle.confidences) if c < abstain]
    sure = [i for i, c in enumerate(edge_bundle.confidences) if c >= abstain]
    return unsure[0], unsure[1], sure[0]


@pytest.mark.parametrize("bad", BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_a_nonsense_central_answer_leaves_the_edge_answer_with_route_fallback(
        edge_bundle, sure_and_unsure, tmp_path, bad):
    unsure, _, sure = sure_and_unsure
    records = [{"review_text": edge_bundle.sentences[i], "product_id": f"sku-{i}"} for i in (unsure, sure)]
    with stand_in_central(edge_bundle.manifest) as central, \
            edge_pod(edge_bundle.path, tmp_path / "log", central_url=central.url, shadow_rate=1.0) as client:
        central.corrupt = lambda record: bad
        reply = client.post("/v1/decisions/negative_review", json={"records": records})
        assert reply.status_code == 200, reply.text[:300]
        answers = reply.json()["decisions"]
        assert [a["route"] for a in answers] == ["fallback", "edge"]
        # The edge's own answer stands, with the edge bundle's identity.
        assert answers[0]["score"] == pytest.approx(float(edge_bundle.confidences[unsure]), abs=1e-5)
        assert {a["bundle_sha256"] for a in answers} == {edge_bundle.manifest["bundle_sha256"]}
        assert {a["model_version"] for a in answers} == {edge_bundle.release["model_version"]}
        assert fallbacks(client, "negative_review") == 1
    # Both lines logged (the sure one after central scored it as a shadow), neither holding the answer.
    lines = {line["product_id"]: line for line in read_log(tmp_path / "log", 2)}
    assert lines[f"sku-{unsure}"]["route"] == "fallback" and lines[f"sku-{sure}"]["shadow"] is True
    for line in lines.values():
        assert line["central_error"].startswith("central answer") and line["central_label"] is None
        assert line["central_score"] is None and line["central_bundle_sha256"] is None
    assert max(p.stat().st_size for p in (tmp_path / "log" / "negative_review").glob("*.jsonl")) < 100_000


def test_only_the_record_with_a_nonsense_answer_falls_back(edge_bundle, sure_and_unsure, tmp_path):
    first, second, sure = sure_and_unsure
    records = [{"review_text": edge_bundle.sentences[i]} for i in (first, second, sure)]
    with stand_in_central(edge_bundle.manifest) as central, \
            edge_pod(edge_bundle.path, tmp_path / "log", central_url=central.url) as client:
        central.corrupt = lambda record: {"score": float("nan")} if record == records[0] else {}
        answers = client.post("/v1/decisions/negative_review", json={"records": records}).json()["decisions"]
    assert [a["route"] for a in answers] == ["fallback", "central", "edge"]
    assert (answers[1]["label"], answers[1]["score"], answers[1]["bundle_sha256"]) == ("negative", 1.0, CENTRAL_SHA)


def test_central_only_routing_refuses_a_batch_with_a_nonsense_answer(edge_bundle, tmp_path):
    model = EdgeModel(edge_bundle.path)
    with stand_in_central(edge_bundle.manifest) as central:
        router = Router(model, model_version="3", central_url=central.url)
        records = [{"review_text": s} for s in edge_bundle.sentences[:2]]
        decided = router.decide_centrally(records)
        assert [(r.route, r.route_reason) for r in decided] == [("central", "central_only")] * 2
        central.corrupt = lambda record: {"bundle_sha256": None}
        with pytest.raises(CentralError, match="bundle_sha256 that is not 64 hex digits"):
            router.decide_centrally(records)
        router.close()


# ---- the out-of-range guard -----------------------------------------------------------------

@pytest.fixture(scope="module")
def ranged(hybrid_bundle, tmp_path_factory):
    """The hybrid (price_spike kind) bundle resealed with ``trained_range`` over the prices of the
    windows it was trained on (``bundle_factory.training_windows``, seed 31 as the fixture's),
    the way the release step records it; and a confident reference window inside that range."""
    from bundle_factory import training_windows

    prices = np.array([w.prices for w in training_windows(31)], dtype=np.float32)
    lo, hi = float(prices.min()), float(prices.max())
    bundle = resealed(hybrid_bundle, tmp_path_factory.mktemp("ranged") / "edge",
                      trained_range={"prices": {"min": lo, "max": hi}})
    abstain = hybrid_bundle.manifest["thresholds"]["abstain"]
    inside = next(i for i, (w, c) in enumerate(zip(hybrid_bundle.windows, hybrid_bundle.confidences))
                  if c >= abstain and lo <= min(w.prices) and max(w.prices) <= hi)
    return bundle, (lo, hi), inside


def _probes(bundle, bounds, inside) -> list[dict[str, Any]]:
    """The confident in-range window and the same moves scaled past the top and under the bottom of
    the range (the graph reads log ratios: scaling leaves its answer as it was)."""
    lo, hi = bounds
    record = bundle.records[inside]
    prices = record["prices"]
    above = [p * 10 * hi / min(prices) for p in prices]
    below = [p * lo / 2 / max(prices) for p in prices]
    return [record, {**record, "prices": above}, {**record, "prices": below}]


def test_a_record_outside_the_trained_range_goes_to_central_however_sure_the_edge_is(ranged, tmp_path):
    bundle, bounds, inside = ranged
    records = _probes(bundle, bounds, inside)
    model = EdgeModel(bundle.path)
    _, probs = model.predict([r["title"] for r in records], [r["prices"] for r in records])
    assert (probs.max(1) >= bundle.manifest["thresholds"]["abstain"]).all()  # abstention alone keeps all
    with stand_in_central(bundle.manifest) as central, \
            edge_pod(bundle.path, tmp_path / "log", central_url=central.url) as client:
        answers = client.post("/v1/decisions/price_spike", json={"records": records}).json()["decisions"]
        counted = samples(client.get("/metrics").text, "out_of_range_total")
    assert [a["route"] for a in answers] == ["edge", "central", "central"]
    assert central.asked == records[1:]
    assert counted == {(("decision", "price_spike"),): 2.0}


def test_without_central_an_out_of_range_record_keeps_the_edge_answer_and_is_counted(ranged, tmp_path):
    bundle, bounds, inside = ranged
    records = _probes(bundle, bounds, inside)
    with edge_pod(bundle.path, tmp_path / "log") as client:
        answers = client.post("/v1/decisions/price_spike", json={"records": records}).json()["decisions"]
        counted = samples(client.get("/metrics").text, "out_of_range_total")
    assert [a["route"] for a in answers] == ["edge"] * 3
    assert counted == {(("decision", "price_spike"),): 2.0}
    logged = read_log(tmp_path / "log", 3, decision="price_spike")
    assert [line["route_reason"] for line in logged] == ["confident", "no_central", "no_central"]


def test_a_bundle_without_a_trained_range_routes_on_confidence_alone(ranged, hybrid_bundle, tmp_path):
    bundle, bounds, inside = ranged
    records = _probes(bundle, bounds, inside)
    with stand_in_central(hybrid_bundle.manifest) as central, \
            edge_pod(hybrid_bundle.path, tmp_path / "log", central_url=central.url) as client:
        answers = client.post("/v1/decisions/price_spike", json={"records": records}).json()["decisions"]
        assert "out_of_range_total{" not in client.get("/metrics").text
    assert [a["route"] for a in answers] == ["edge"] * 3 and central.asked == []


@pytest.mark.parametrize("entry", [
    [0, 1], {"title": {"min": 0, "max": 1}}, {"prices": {"min": 5, "max": 1}}, {"prices": [1, 2]},
    {"prices": {"min": 0}}, {"prices": {"min": 0, "max": True}},
])
def test_a_malformed_trained_range_stops_the_bundle(hybrid_bundle, tmp_path, entry):
    bundle = resealed(hybrid_bundle, tmp_path / "edge", trained_range=entry)
    with pytest.raises(BundleError, match="trained_range"):
        Router(EdgeModel(bundle.path), model_version="4")


# ---- why each decision took its route, as real pods on loopback log it ----------------------

def _scaled(record: dict[str, Any], into: tuple[float, float]) -> dict[str, Any]:
    """``record`` with its prices scaled to sit mid-way (geometrically) in ``into``; the graph reads
    log ratios, so its answer stays as it was."""
    prices = np.array(record["prices"], dtype=np.float64)
    factor = np.sqrt(into[0] * into[1] / (prices.min() * prices.max()))
    return {**record, "prices": [float(p) for p in prices * factor]}


def test_the_log_says_whether_central_was_asked_for_abstention_or_for_the_trained_range(
        ranged, hybrid_bundle, hybrid_central_bundle, tmp_path):
    bundle, (lo, hi), inside = ranged
    abstain = bundle.manifest["thresholds"]["abstain"]
    unsure = next(i for i, c in enumerate(hybrid_bundle.confidences) if c < abstain)
    sure_in, sure_above, _ = _probes(bundle, (lo, hi), inside)
    unsure_in = _scaled(bundle.records[unsure], (lo, hi))
    unsure_above = _scaled(bundle.records[unsure], (10 * hi, 100 * hi))
    records = [{**r, "product_id": f"asin-{n}"} for n, r in enumerate([sure_in, sure_above, unsure_in, unsure_above])]
    _, probs = EdgeModel(bundle.path).predict([r["title"] for r in records], [r["prices"] for r in records])
    assert (probs.max(1) < abstain).tolist() == [False, False, True, True]
    central_deploy = as_central(hybrid_central_bundle, tmp_path / "central_deploy")
    with running_pod(central_deploy.path, tmp_path / "central") as central, \
            running_pod(bundle.path, tmp_path / "edge", "--central-url", central.url) as edge:
        reply = httpx.post(edge.url + "/v1/decisions/price_spike", json={"records": records}, timeout=10.0)
        assert reply.status_code == 200, reply.text[:300]
    logged = {line["product_id"]: line for line in read_log(edge.log_dir, 4, decision="price_spike")}
    # Outside the range wins over abstention: the guard sends the record whatever the confidence.
    assert [(logged[f"asin-{n}"]["route"], logged[f"asin-{n}"]["route_reason"]) for n in range(4)] == [
        ("edge", "confident"), ("central", "out_of_range"), ("central", "abstain"), ("central", "out_of_range")]
    assert [a["route"] for a in reply.json()["decisions"]] == ["edge", "central", "central", "central"]
    # The response stays as documented: the reason is the log's.
    assert all("route_reason" not in a for a in reply.json()["decisions"])


def test_the_log_says_a_fallback_came_from_a_central_answering_junk(edge_bundle, sure_and_unsure, tmp_path):
    unsure, _, sure = sure_and_unsure
    records = [{"review_text": edge_bundle.sentences[i], "product_id": f"sku-{i}"} for i in (unsure, sure)]
    with stand_in_central(edge_bundle.manifest) as central, \
            running_pod(edge_bundle.path, tmp_path / "edge", "--central-url", central.url) as edge:
        central.corrupt = lambda record: {"score": float("nan"), "label": "maybe"}
        reply = httpx.post(edge.url + URL, json={"records": records}, timeout=10.0)
        assert reply.status_code == 200, reply.text[:300]
    logged = {line["product_id"]: line for line in read_log(edge.log_dir, 2)}
    assert (logged[f"sku-{unsure}"]["route"], logged[f"sku-{unsure}"]["route_reason"]) == ("fallback", "central_error")
    assert logged[f"sku-{unsure}"]["central_error"] == "central answer has a label the bundle does not know"
    assert (logged[f"sku-{sure}"]["route"], logged[f"sku-{sure}"]["route_reason"]) == ("edge", "confident")
