"""Requests that break the feature contract are refused with every offending field named;
accepted ones carry the digest of exactly the features the model saw."""

from __future__ import annotations

import hashlib
import json
import shutil

import httpx
import pytest
from starlette.testclient import TestClient
from test_serving_pod import read_log, running_pod

from commons.manifest import BundleError
from release_keys import trust_dir
from serving.app import create_app
from serving.contract import FieldError, check_contract, check_record, model_inputs

URL = "/v1/decisions/negative_review"


@pytest.fixture(scope="module")
def client(edge_bundle, tmp_path_factory):
    app = create_app(edge_bundle.path, trust_dir=trust_dir(), decision_log_dir=tmp_path_factory.mktemp("log"),
                     max_batch=4)
    with TestClient(app) as test_client:
        yield test_client


def errors_of(response) -> list[tuple]:
    assert response.status_code == 422, response.text
    return [(e["record"], e["field"], e["message"]) for e in response.json()["errors"]]


def test_unknown_missing_mistyped_and_oversized_fields_are_each_listed(client):
    response = client.post(URL, json={"records": [
        {"review_text": "Fine.", "rating": 4, "email": "a@b.c"},
        {"product_id": "sku-1"},
        {"review_text": 5, "product_id": ["sku"]},
        {"review_text": "x" * 5001, "product_id": "p" * 257},
    ]})
    found = errors_of(response)
    assert {(r, f) for r, f, _ in found} == {
        (0, "rating"), (0, "email"), (1, "review_text"), (2, "review_text"), (2, "product_id"),
        (3, "review_text"), (3, "product_id")}
    messages = {(r, f): m for r, f, m in found}
    assert messages[0, "rating"] == "field is not in the feature contract"
    assert messages[1, "review_text"] == "required field is missing"
    assert messages[2, "review_text"] == "expected a string, got int"
    assert "exceeds max_length 5000" in messages[3, "review_text"]


@pytest.mark.parametrize("body, expected", [
    (b'{"records": [{"review_text": "ok"}', "malformed JSON"),
    (b'{"records": [{"review_text": NaN}]}', "malformed JSON"),
    # A key given twice: which record was meant is unknowable (json would keep the last).
    (b'{"records": [{"review_text": "awful", "review_text": "great"}]}', "malformed JSON"),
    (b'{"records": [{"review_text": "ok"}], "records": []}', "malformed JSON"),
    (b'\xff\xfe', "malformed JSON"),
    # UTF-16 (with and without its BOM): json.loads of bytes would guess the encoding and decide it.
    ('{"records": [{"review_text": "ok"}]}'.encode("utf-16"), "malformed JSON"),
    ('{"records": [{"review_text": "ok"}]}'.encode("utf-16-le"), "malformed JSON"),
    (b'[{"review_text": "ok"}]', "invalid batch"),
    (b'{"records": []}', "invalid batch"),
    (b'{"records": {"review_text": "ok"}}', "invalid batch"),
    (b'{"records": [{"review_text": "ok"}], "debug": true}', "invalid batch"),
    (b'{"records": ["ok"]}', "records break the feature contract"),
])
def test_malformed_or_badly_shaped_bodies_are_422(client, body, expected):
    response = client.post(URL, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == expected
    assert response.json()["errors"]


def test_a_utf8_body_with_a_byte_order_mark_is_read(client):
    response = client.post(URL, content=b"\xef\xbb\xbf" + b'{"records": [{"review_text": "ok"}]}',
                           headers={"content-type": "application/json"})
    assert response.status_code == 200 and len(response.json()["decisions"]) == 1


def test_oversized_batch_names_the_limit(client):
    found = errors_of(client.post(URL, json={"records": [{"review_text": "ok"}] * 5}))
    assert found == [(None, "records", "batch of 5 exceeds max_batch 4")]


def test_a_decision_the_pod_does_not_serve_is_404(client):
    response = client.post("/v1/decisions/price_drop", json={"records": [{"review_text": "ok"}]})
    assert response.status_code == 404


def test_signal_digest_is_sha256_of_the_canonical_feature_json(client):
    text = "Café was dreadful — \"never\" again"
    response = client.post(URL, json={"records": [{"review_text": text, "product_id": "sku-9"},
                                                  {"review_text": text}]})
    assert response.status_code == 200
    # Canonical form written out by hand: sorted keys, no spaces, non-ASCII kept as UTF-8,
    # and the key field product_id left out because the model never sees it.
    canonical = '{"review_text":"Café was dreadful — \\"never\\" again"}'
    expected = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert [d["signal_digest"] for d in response.json()["decisions"]] == [expected, expected]


def test_rejections_are_counted_by_reason(client):
    client.post(URL, content=b"{", headers={"content-type": "application/json"})
    client.post("/v1/decisions/nope", json={"records": []})
    metrics = client.get("/metrics").text
    assert 'rejected_requests_total{reason="malformed_json"}' in metrics
    assert 'rejected_requests_total{reason="unknown_decision"}' in metrics


NUMERIC = {"decision": "price_drop", "fields": {
    "title": {"type": "string", "role": "feature", "required": True, "max_length": 20},
    "price": {"type": "number", "role": "key", "required": True, "min": 0, "max": 1000},
    "stock_count": {"type": "integer", "role": "key", "required": False, "min": 0},
}}


@pytest.mark.parametrize("record, field, message", [
    ({"title": "t", "price": -1}, "price", "-1 is below min 0"),
    ({"title": "t", "price": 1000.5}, "price", "1000.5 is above max 1000"),
    ({"title": "t", "price": True}, "price", "expected a number, got bool"),
    ({"title": "t", "price": "9.99"}, "price", "expected a number, got str"),
    ({"title": "t", "price": float("inf")}, "price", "expected a finite number"),
    ({"title": "t", "price": 5, "stock_count": 2.5}, "stock_count",
     "expected an integer, got a fractional number"),
    ({"title": "t", "price": 5, "stock_count": -3}, "stock_count", "-3 is below min 0"),
])
def test_numbers_outside_type_or_range_are_refused(record, field, message):
    assert check_record(record, NUMERIC, 7) == [FieldError(7, field, message)]


def test_optional_null_counts_as_absent():
    assert check_record({"title": "t", "price": 0, "stock_count": None}, NUMERIC, 0) == []


def test_a_contract_the_text_graph_cannot_read_is_refused():
    numeric_feature = {"decision": "d", "fields": {"price": {"type": "number", "role": "feature"}}}
    with pytest.raises(BundleError, match="numeric"):
        model_inputs({"feature_contract": numeric_feature}, "d")
    with pytest.raises(BundleError, match="is for 'price_drop'"):
        check_contract(NUMERIC, "negative_review")


@pytest.mark.parametrize("body", [
    '{"records": [{"review_text": "bad \\ud800 thing"}]}'.encode(),  # JSON escape of a lone surrogate
    b'{"records": [{"review_text": "bad \xed\xa0\x80 thing"}]}',  # its UTF-8-style bytes
])
def test_a_lone_surrogate_in_text_is_422_naming_the_field(client, body):
    response = client.post(URL, content=body, headers={"content-type": "application/json"})
    assert errors_of(response) == [(0, "review_text", "invalid unicode: lone surrogate at character 4")]


def test_a_lone_surrogate_in_a_field_name_is_echoed_escaped(client):
    body = '{"records": [{"review_text": "ok", "product_id": "sku-\\udfff", "x\\ud800": 1}]}'
    found = errors_of(client.post(URL, content=body.encode(), headers={"content-type": "application/json"}))
    assert found == [(0, "x\\ud800", "field is not in the feature contract"),
                     (0, "product_id", "invalid unicode: lone surrogate at character 4")]


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"records": [{"review_text": ' + b"[" * 50_000 + b"]}"])
def test_json_nested_too_deep_is_malformed_not_a_crash(client, body):
    response = client.post(URL, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json() == {"error": "malformed JSON", "errors": [
        {"record": None, "field": None, "message": "JSON nested too deep"}]}


# Whitespace, and text made only of invisible format/control characters (zero-width space, soft
# hyphen, NUL, BOM, a right-to-left mark) that a tokenizer would still turn into tokens.
@pytest.mark.parametrize("text", ["", "   ", "\n\t\u3000", "\u200b", "\u00ad", "\x00",
                                  "\u200b\u00ad \x00\ufeff\u200f"])
def test_blank_required_text_is_422(client, text):
    found = errors_of(client.post(URL, json={"records": [{"review_text": "fine"}, {"review_text": text}]}))
    assert found == [(1, "review_text", "required text must contain non-whitespace characters")]


@pytest.mark.parametrize("text", ["\u200bok", "caf\u00e9\u00ad", "\u0627"])
def test_text_with_a_visible_character_is_accepted(client, text):
    response = client.post(URL, json={"records": [{"review_text": text}]})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1"])
def test_a_body_that_is_not_json_by_content_type_is_415(client, content_type):
    headers = {} if content_type is None else {"content-type": content_type}
    response = client.post(URL, content=b'{"records": [{"review_text": "ok"}]}', headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]


@pytest.mark.parametrize("coding", ["gzip", "br", "deflate, gzip"])
def test_a_compressed_body_is_415_not_a_misleading_422(client, coding):
    import gzip

    body = gzip.compress(b'{"records": [{"review_text": "ok"}]}')
    response = client.post(URL, content=body, headers={"content-type": "application/json",
                                                        "content-encoding": coding})
    assert response.status_code == 415 and "send the JSON body uncompressed" in response.json()["error"]
    plain = client.post(URL, content=b'{"records": [{"review_text": "ok"}]}',
                        headers={"content-type": "application/json", "content-encoding": "identity"})
    assert plain.status_code == 200, plain.text


def test_json_with_a_utf8_charset_is_accepted(client):
    response = client.post(URL, content=b'{"records": [{"review_text": "ok"}]}',
                           headers={"content-type": "Application/JSON; charset=UTF-8"})
    assert response.status_code == 200, response.text


def test_the_default_body_limit_is_4_mib(client):
    body = b'{"records": [{"review_text": "' + b"x" * (4 * 1024 * 1024) + b'"}]}'
    response = client.post(URL, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == f"body of {len(body):,} bytes is over the limit of 4,194,304 bytes"


def test_a_huge_integer_is_refused_not_overflowed():
    contract = {"decision": "d", "fields": {"price": {"type": "number", "role": "feature", "required": True}}}
    assert check_record({"price": 10 ** 400}, contract, 0) == [FieldError(0, "price", "number is out of range")]


def test_a_release_naming_another_model_is_refused(edge_bundle, tmp_path):
    deploy = shutil.copytree(edge_bundle.path, tmp_path / "deploy")
    (deploy / "release.json").write_text(json.dumps({**edge_bundle.release, "model_name": "other"}))
    with pytest.raises(BundleError, match="releases model 'other'"):
        create_app(deploy, trust_dir=trust_dir(), decision_log_dir=tmp_path / "log")
    # The registry names a model after its decision: that name is the bundle's too.
    (deploy / "release.json").write_text(json.dumps({**edge_bundle.release, "model_name": "negative_review"}))
    create_app(deploy, trust_dir=trust_dir(), decision_log_dir=tmp_path / "log")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("model_version", {"a": [1, 2]}, "is not a registry version"),
    ("model_version", "9" * 100_000, "is not a registry version"),
    ("model_version", 0, "is not a registry version"),
    ("model_version", True, "is not a registry version"),
    ("model_version", "01", "is not a registry version"),
    ("alias", "x" * 65, "is not a registry alias"),
    ("alias", "champion\n", "is not a registry alias"),
    ("alias", None, "is not a registry alias"),
])
def test_a_release_with_what_no_registry_writes_is_refused(edge_bundle, tmp_path, field, value, message):
    """release.json lies outside the signature, yet its version and alias are echoed in every answer
    and decision log line: a relabelled version must not serve."""
    deploy = shutil.copytree(edge_bundle.path, tmp_path / "deploy")
    (deploy / "release.json").write_text(json.dumps({**edge_bundle.release, field: value}))
    with pytest.raises(BundleError, match=message):
        create_app(deploy, trust_dir=trust_dir(), decision_log_dir=tmp_path / "log")
    for good in ({"model_version": "12", "alias": "challenger"}, {"model_version": 7, "alias": "champion"}):
        (deploy / "release.json").write_text(json.dumps({**edge_bundle.release, **good}))
        create_app(deploy, trust_dir=trust_dir(), decision_log_dir=tmp_path / "log")


def test_a_stock_window_holds_whole_counts():
    from commons.contracts import URGENT_INVENTORY

    window = [10, 10.0, 9, 9, 8, 8, 7, 7]
    assert check_record({"title": "A book", "stock_counts": window}, URGENT_INVENTORY, 0) == []
    assert check_record({"title": "A book", "stock_counts": [2.5] + window[1:]}, URGENT_INVENTORY, 3) == [
        FieldError(3, "stock_counts", "element 0: expected a whole number, got 2.5")]


def test_a_number_too_long_for_python_is_malformed_json_without_server_advice(client):
    body = b'{"records": [{"review_text": "ok", "n": ' + b"1" * 5000 + b"}]}"
    response = client.post(URL, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    message = response.json()["errors"][0]["message"]
    assert message.startswith("Exceeds the limit (4300 digits) for integer string conversion")
    assert "set_int_max_str_digits" not in message


@pytest.fixture(scope="module")
def pod(edge_bundle, tmp_path_factory):
    with running_pod(edge_bundle.path, tmp_path_factory.mktemp("keys")) as real_pod:
        yield real_pod


ENDS = "white space or a control character at its ends"
NO_LETTER = "no letter or digit in it: erasure could not name it"


def test_a_product_id_erase_could_not_name_is_422_and_never_logged(pod, edge_bundle):
    """The decision log keeps product_id, so a pod takes only keys `erase --product` can name, with
    no hidden character in them: the push intake's rule (commons.text_rules)."""
    refused = {" p-1 ": ENDS, "": NO_LETTER, " ": NO_LETTER, "---": NO_LETTER, "\u0000": NO_LETTER,
               "p\n1": "holds a control character U+000A", "\u202ep-1": ENDS,
               "p\u200b1": "holds a format character U+200B", "p-1\t": ENDS}
    review = edge_bundle.sentences[0]
    for product_id, message in refused.items():
        reply = httpx.post(pod.url + URL, json={"records": [{"review_text": review, "product_id": product_id}]},
                           timeout=10.0)
        assert errors_of(reply) == [(0, "product_id", message)], repr(product_id)
    assert read_log(pod.log_dir, 1, timeout_s=0.5) == []
    kept = httpx.post(pod.url + URL, json={"records": [{"review_text": review, "product_id": "p-1"}]}, timeout=10.0)
    assert kept.status_code == 200, kept.text
    assert [line["product_id"] for line in read_log(pod.log_dir, 1)] == ["p-1"]
