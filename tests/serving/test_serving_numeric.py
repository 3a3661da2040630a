"""Hybrid bundles: one ONNX graph reading a title as text and a raw price window as numbers.

Checked on real Amazon.co.jp titles and price windows: ONNX Runtime against PyTorch, the load-time
refusal of manifests whose numeric inputs do not fit the contract or the graph, the 422s for bad
number lists, and real pods (edge consulting central) deciding and logging hybrid batches.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import httpx
import numpy as np
import pytest
from starlette.testclient import TestClient

from commons.manifest import BundleError, write_manifest
from release_keys import signed, trust_dir
from serving.app import create_app
from serving.contract import FieldError, NumericInput, check_record, model_inputs
from serving.inference import EdgeModel
from test_serving_pod import as_central, read_log, refused_start, running_pod

pytestmark = pytest.mark.slow  # builds models, reads whole data sets or starts processes

URL = "/v1/decisions/price_spike"


def digest_of(title: str, prices: list) -> str:
    # Written out independently of serving.contract: sorted keys, no spaces, non-ASCII as UTF-8.
    canonical = json.dumps({"title": title, "prices": prices}, sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@pytest.fixture(scope="module")
def hybrid_model(hybrid_bundle) -> EdgeModel:
    return EdgeModel(hybrid_bundle.path)


@pytest.fixture(scope="module")
def client(hybrid_bundle, tmp_path_factory):
    app = create_app(hybrid_bundle.path, trust_dir=trust_dir(), decision_log_dir=tmp_path_factory.mktemp("log"))
    with TestClient(app) as test_client:
        yield test_client


def test_the_manifest_maps_title_to_text_and_prices_to_numeric(hybrid_model):
    assert hybrid_model.inputs.text_fields == ("title",)
    assert hybrid_model.inputs.numeric_inputs == (NumericInput("prices", 6),)
    assert hybrid_model.inputs.numeric_width == 6


@pytest.mark.parametrize("bundle_name", ["hybrid_bundle", "hybrid_central_bundle"])
def test_onnx_logits_match_torch_on_real_titles_and_price_windows(bundle_name, request):
    bundle = request.getfixturevalue(bundle_name)
    model = EdgeModel(bundle.path)
    titles, prices = [w.title for w in bundle.windows], [w.prices for w in bundle.windows]
    logits = model.logits(titles, prices)
    assert logits.dtype == np.float32 and logits.shape == (len(titles), 2)
    assert np.abs(logits - bundle.torch_logits).max() <= 1e-4
    # Alone, each title is padded to its own length instead of the batch's longest.
    alone = np.concatenate([model.logits([t], [p]) for t, p in zip(titles, prices)])
    assert np.abs(alone - bundle.torch_logits).max() <= 1e-4


def test_the_price_window_moves_the_decision(hybrid_model, hybrid_bundle):
    spikes = [w for w in hybrid_bundle.windows if w.spike]
    assert spikes, "the reference windows hold real price spikes"
    titles = [w.title for w in spikes]
    flat = [[w.prices[1]] * len(w.prices) for w in spikes]
    _, spiky_probs = hybrid_model.predict(titles, [w.prices for w in spikes])
    _, flat_probs = hybrid_model.predict(titles, flat)
    spike = hybrid_model.labels.index("spike")
    # Same titles, prices that never moved: the numeric branch alone must lower P(spike).
    assert (flat_probs[:, spike] < spiky_probs[:, spike]).all()


def test_numbers_must_fit_the_graph(hybrid_model, edge_bundle):
    with pytest.raises(ValueError, match=r"needs numeric float32 \[batch, 6\]"):
        hybrid_model.logits(["a title"])
    with pytest.raises(ValueError, match=r"expected \(1, 6\)"):
        hybrid_model.logits(["a title"], [[1.0] * 5])
    with pytest.raises(ValueError, match="text only"):
        EdgeModel(edge_bundle.path).logits(["fine"], [[1.0]])
    assert hybrid_model.logits([], np.zeros((0, 6))).shape == (0, 2)


def resealed(source, target, edit) -> EdgeModel:
    """Load a copy of a bundle whose manifest ``edit`` changed, re-hashed as the pipeline would."""
    target.mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        shutil.copy(source / name, target / name)
    manifest = json.loads((source / "manifest.json").read_text())
    edit(manifest)
    write_manifest(target, manifest)
    return EdgeModel(target)


def _prices(manifest):
    return manifest["feature_contract"]["fields"]["prices"]


@pytest.mark.parametrize("edit, message", [
    (lambda m: (_prices(m).update(length=5), m.update(numeric_inputs=[{"field": "prices", "length": 5}])),
     r"input 'numeric' has width 6, numeric_inputs add up to 5"),
    (lambda m: m.update(numeric_inputs=[{"field": "prices", "length": 4}]),
     r"'prices' has length 4, the contract gives it 6"),
    (lambda m: m.pop("numeric_inputs"), r"\['prices'\] are read by the model neither"),
    (lambda m: (_prices(m).update(role="key"), m.pop("numeric_inputs")),
     r"the manifest lists no numeric_inputs"),
    (lambda m: m.update(numeric_inputs=[{"field": "product_id", "length": 1}]),
     "'product_id' is not a numeric feature field"),
    (lambda m: m.update(numeric_inputs=[{"field": "prices", "length": 6}] * 2), "listed twice"),
    (lambda m: m.update(numeric_inputs=[{"field": "prices"}]),
     re.escape("must be {'field': name, 'length': k}")),
    (lambda m: _prices(m).update(required=False), "'prices' must be required"),
    (lambda m: _prices(m).pop("length"), "number_list needs a positive integer 'length'"),
    (lambda m: m.update(text_fields=["prices"]), "text_fields entry 'prices' is not a string feature"),
])
def test_a_manifest_whose_numeric_inputs_misfit_contract_or_graph_is_refused(
        hybrid_bundle, tmp_path, edit, message):
    with pytest.raises(BundleError, match=message):
        resealed(hybrid_bundle.path, tmp_path / "bundle", edit)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(text_fields=[]), r"\['title'\] are read by the model neither"),
    (lambda m: m.update(text_fields=[], ignored_fields=["product_id"]), "must list feature fields"),
    (lambda m: m.update(text_fields=[], ignored_fields=["title", "prices"]), "listed twice"),
    (lambda m: m.update(ignored_fields=["title"]), "listed twice"),
])
def test_ignored_fields_must_be_unread_feature_fields_and_say_why_no_text_is_read(hybrid_bundle, tmp_path, edit,
                                                                                   message):
    with pytest.raises(BundleError, match=message):
        resealed(hybrid_bundle.path, tmp_path / "bundle", edit)


def test_a_model_that_ignores_its_title_answers_alike_for_any_title_and_still_digests_it(hybrid_bundle, tmp_path):
    folder = tmp_path / "bundle"
    model = resealed(hybrid_bundle.path, folder, lambda m: m.update(text_fields=[], ignored_fields=["title"]))
    assert model.inputs.text_fields == () and model.inputs.ignored_fields == ("title",)
    signed(folder)
    shutil.copy(hybrid_bundle.path / "release.json", folder / "release.json")
    window = hybrid_bundle.windows[0]
    records = [{"title": window.title, "prices": window.prices}, {"title": "another title", "prices": window.prices}]
    with TestClient(create_app(folder, trust_dir=trust_dir(), decision_log_dir=tmp_path / "log")) as client:
        answers = client.post(URL, json={"records": records}).json()["decisions"]
    # The graph read an empty text both times; the digest covers the record as the contract has it.
    assert answers[0]["score"] == answers[1]["score"] and answers[0]["label"] == answers[1]["label"]
    assert [a["signal_digest"] for a in answers] == [digest_of(r["title"], r["prices"]) for r in records]
    expected = model.predict([""], [window.prices])[1][0].max()
    assert answers[0]["score"] == pytest.approx(float(expected), abs=1e-6)


def test_a_text_only_graph_with_numeric_inputs_listed_is_refused(edge_bundle, tmp_path):
    def add_rating(manifest):
        manifest["feature_contract"]["fields"]["rating"] = {
            "type": "number", "role": "feature", "required": True, "min": 0, "max": 5}
        manifest["numeric_inputs"] = [{"field": "rating", "length": 1}]

    with pytest.raises(BundleError, match="the manifest lists numeric_inputs"):
        resealed(edge_bundle.path, tmp_path / "bundle", add_rating)


def test_bad_number_lists_are_422_with_the_reason(client, hybrid_bundle):
    good = hybrid_bundle.records[0]
    response = client.post(URL, json={"records": [
        {**good, "prices": good["prices"][:5]},
        {**good, "prices": [*good["prices"][:2], "2980", *good["prices"][3:]]},
        {"title": good["title"]},
        {**good, "prices": [*good["prices"][:5], True]},
        {**good, "prices": [*good["prices"][:5], 0]},
        {**good, "prices": 2980},
        good,
    ]})
    assert response.status_code == 422, response.text
    found = {(e["record"], e["field"]): e["message"] for e in response.json()["errors"]}
    assert found == {
        (0, "prices"): "list of 5 values, expected exactly 6",
        (1, "prices"): "element 2: expected a number, got str",
        (2, "prices"): "required field is missing",
        (3, "prices"): "element 5: expected a number, got bool",
        (4, "prices"): "element 5: 0 is below min 0.0001",
        (5, "prices"): "expected a list of 6 numbers, got int",
    }


def test_nan_in_a_price_list_is_refused(client, hybrid_bundle):
    title = json.dumps(hybrid_bundle.windows[0].title, ensure_ascii=False)
    body = f'{{"records": [{{"title": {title}, "prices": [1, 2, NaN, 4, 5, 6]}}]}}'
    response = client.post(URL, content=body.encode("utf-8"), headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["error"] == "malformed JSON"
    # Past the JSON parser (another caller of the contract), NaN is still refused.
    record = {"title": "t", "prices": [1.0, 2.0, float("nan"), 4.0, 5.0, 6.0]}
    contract = hybrid_bundle.manifest["feature_contract"]
    assert check_record(record, contract, 3) == [
        FieldError(3, "prices", "element 2: expected a finite number")]


def test_a_title_with_a_control_character_is_422_and_one_with_tabs_line_breaks_and_joiners_is_decided(
        hybrid_bundle, tmp_path):
    window = hybrid_bundle.windows[0]
    with running_pod(hybrid_bundle.path, tmp_path) as pod:
        for title, code in (("A\u0000B", "U+0000"), ("Echo\u001b[31m Dot", "U+001B"), ("Echo\u0085Dot", "U+0085")):
            reply = httpx.post(pod.url + URL, json={"records": [{"title": title, "prices": window.prices}]},
                               timeout=10.0)
            assert reply.status_code == 422, reply.text
            assert reply.json()["errors"] == [{"record": 0, "field": "title",
                                               "message": f"holds a control character {code}"}]
        # What push intake lets into a title (tab, line breaks, ZWJ) a pod decides on.
        title = f"{window.title}\t(5th gen)\r\n\U0001f469\u200d\U0001f4bb"
        reply = httpx.post(pod.url + URL, json={"records": [{"title": title, "prices": window.prices}]}, timeout=10.0)
        assert reply.status_code == 200, reply.text
        assert reply.json()["decisions"][0]["signal_digest"] == digest_of(title, window.prices)


def test_default_text_fields_are_the_string_features_in_contract_order():
    contract = {"decision": "d", "fields": {
        "title": {"type": "string", "role": "feature"}, "sku": {"type": "string", "role": "key"},
        "body": {"type": "string", "role": "feature"}}}
    inputs = model_inputs({"feature_contract": contract}, "d")
    assert inputs.text_fields == ("title", "body") and inputs.numeric_width == 0
    assert inputs.text({"body": "b", "title": "t"}) == "t\nb"


@pytest.fixture(scope="module")
def hybrid_central_deploy(hybrid_central_bundle, tmp_path_factory):
    """The 2-layer hybrid bundle deployed with role ``central``."""
    return as_central(hybrid_central_bundle, tmp_path_factory.mktemp("hybrid_central_deploy") / "central")


@pytest.fixture(scope="module")
def hybrid_pods(hybrid_bundle, hybrid_central_deploy, tmp_path_factory):
    """A central hybrid pod (2 layers) and an edge hybrid pod (1 layer) consulting it."""
    central_dir, edge_dir = tmp_path_factory.mktemp("hybrid_central"), tmp_path_factory.mktemp("hybrid_edge")
    with running_pod(hybrid_central_deploy.path, central_dir) as central, \
            running_pod(hybrid_bundle.path, edge_dir, "--central-url", central.url) as edge:
        records = [{**r, "product_id": f"asin-{i}"} for i, r in enumerate(hybrid_bundle.records)]
        response = httpx.post(edge.url + URL, json={"records": records}, timeout=10.0)
        assert response.status_code == 200, response.text
        yield {"decisions": response.json()["decisions"], "edge_log": edge.log_dir,
               "central_log": central.log_dir, "central": central.url}


def test_a_real_pod_decides_a_hybrid_batch_consulting_central_with_the_same_numbers(
        hybrid_pods, hybrid_bundle, hybrid_central_deploy):
    decisions = hybrid_pods["decisions"]
    abstain = hybrid_bundle.manifest["thresholds"]["abstain"]
    expected_routes = ["central" if c < abstain else "edge" for c in hybrid_bundle.confidences]
    assert {"central", "edge"} <= set(expected_routes)
    # Central recomputes each digest from the records it was sent; a "central" route (not
    # "fallback") means it saw the same title and the same prices.
    assert [d["route"] for d in decisions] == expected_routes
    for decision, window, confidence in zip(decisions, hybrid_bundle.windows, hybrid_bundle.confidences):
        assert decision["decision"] == "price_spike" and decision["label"] in ("no_spike", "spike")
        assert decision["signal_digest"] == digest_of(window.title, window.prices)
        answering = hybrid_central_deploy if decision["route"] == "central" else hybrid_bundle
        assert decision["bundle_sha256"] == answering.manifest["bundle_sha256"]
        if decision["route"] == "edge":
            assert decision["score"] == pytest.approx(float(confidence), abs=1e-5)


def test_the_decision_log_carries_the_digest_over_title_and_prices(hybrid_pods, hybrid_bundle):
    decisions = hybrid_pods["decisions"]
    lines = {line["product_id"]: line
             for line in read_log(hybrid_pods["edge_log"], len(decisions), decision="price_spike")}
    assert len(lines) == len(decisions)
    for i, (decision, window) in enumerate(zip(decisions, hybrid_bundle.windows)):
        line = lines[f"asin-{i}"]
        assert line["signal_digest"] == decision["signal_digest"] == digest_of(window.title, window.prices)
        assert (line["label"], line["route"]) == (decision["label"], decision["route"])
    raw = "".join(p.read_text(encoding="utf-8")
                  for p in (hybrid_pods["edge_log"] / "price_spike").glob("*.jsonl"))
    assert not any(w.title in raw for w in hybrid_bundle.windows)
    consulted = {d["signal_digest"] for d in decisions if d["route"] == "central"}
    central_lines = read_log(hybrid_pods["central_log"], len(consulted), decision="price_spike")
    assert {line["signal_digest"] for line in central_lines} == consulted


def test_an_edge_pod_refuses_a_central_pod_of_another_decision(hybrid_pods, edge_bundle, tmp_path):
    [line] = refused_start(edge_bundle.path, tmp_path, "--central-url", hybrid_pods["central"])
    assert line == (f"refusing to start: {hybrid_pods['central']} answers as a pod with role 'central' "
                    "deciding 'price_spike'; this pod needs role 'central' deciding 'negative_review'")


def test_a_blank_title_is_422(client, hybrid_bundle):
    response = client.post(URL, json={"records": [{**hybrid_bundle.records[0], "title": " "}]})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"record": 0, "field": "title",
                                          "message": "required text must contain non-whitespace characters"}]
