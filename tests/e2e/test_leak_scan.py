"""Data minimisation, checked on the bytes: after the shared end-to-end run (conftest ``job_run``)
and pods answering real reviews from it, no file under the run's state folder holds a PII value the
scrubber replaced in that run's input (e-mails, phones, names in review texts; reviewer names),
no pod decision log or MLflow artifact holds a review text or a field outside the contract, and an
erased product is in no file of (a copy of) the state folder but the erasure register."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from commons.contracts import NEGATIVE_REVIEW
from commons.control_audit import read_events
from commons.hash_chain import record_of
from crawlers.feeds import read_review_feed
from data_quality.pii_engine import default_engine
from commons.token_client import BearerAuth
from edge_insights.pods import running_pod, running_token_plane
from e2e_slice import KNOWN_EMAIL, KNOWN_PHONE

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

# A value this short can occur by chance in any binary file (a model's weights, a SQLite page);
# every structured identifier is longer, and so is any full name worth finding.
MIN_VALUE_CHARS = 6
# Review texts shorter than this are phrases ("Great product") a tokenizer or a model card may
# hold without having copied any review.
MIN_TEXT_CHARS = 40
# Keys a decision-log line may carry (serving.decision_log) besides the chain's own.
LOG_KEYS = {"ts", "decision", "label", "score", "route", "route_reason", "model_version", "bundle_sha256",
            "signal_digest", "latency_ms", "product_id", "edge_label", "edge_score", "edge_bundle_sha256",
            "central_label", "central_score", "central_bundle_sha256", "central_error", "shadow", "inputs",
            "traffic"}


def scrubbed_values(reviews_dir: Path) -> tuple[set[str], set[str]]:
    """What the scrubber replaced in the run's review input — spans of the review texts and the
    reviewer names (replaced whole by ``<USER>``) — split into (values to look for, ambiguous
    values). A value that also stands in the scrubbed texts or the titles (a reviewer called
    "Wonderful" or "mother", a span word that is ordinary text elsewhere) is stored on purpose as
    an ordinary word, so finding it proves nothing: it is set aside, not looked for."""
    records, _ = read_review_feed(reviews_dir, "leak-scan")
    texts = [t for r in records for t in r.get("review_text") or ()]
    engine = default_engine()
    spans = engine.analyze_batch(texts)
    found = {text[s.start:s.end] for text, text_spans in zip(texts, spans) for s in text_spans}
    found |= {r["author"] for r in records if r.get("author")}
    found = {v.strip() for v in found if len(v.strip()) >= MIN_VALUE_CHARS}
    kept_text = "\n".join([scrubbed for scrubbed, _ in engine.scrub_batch(texts)]
                          + [r["title"] for r in records if r.get("title")])
    ambiguous = {v for v in found if v in kept_text}
    return found - ambiguous, ambiguous


def _vocabulary(path: Path) -> set[str]:
    """The tokens of a Hugging Face ``tokenizer.json`` (its ``model.vocab``), empty for other files."""
    if path.name != "tokenizer.json":
        return set()
    vocab = json.loads(path.read_text(encoding="utf-8")).get("model", {}).get("vocab", {})
    return set(vocab) if isinstance(vocab, dict) else {token for token, _ in vocab}


def _word_byte(byte: bytes) -> bool:
    return byte.isalnum()


def files_holding(root: Path, values: set[str]) -> dict[str, list[str]]:
    """File (relative) → the values its bytes hold as whole words (not inside a longer word:
    "Christi" in "Christians" is no hit), for every file under ``root``. A tokenizer's own
    vocabulary entry ("richard", "chocolate" in an uncased word-piece vocabulary) is a word the
    model ships, not a copied value, and is no hit either."""
    # A plain alternation, boundaries checked per match: a look-behind at every byte of the
    # run's gigabyte and a half of weights makes the scan minutes slower.
    pattern = re.compile(b"|".join(re.escape(v.encode("utf-8")) for v in sorted(values, key=len, reverse=True)))
    hits = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # a transient file (a SQLite -shm) removed by a run on another worker
            continue
        found = {m.group().decode("utf-8") for m in pattern.finditer(data)
                 if not _word_byte(data[m.start() - 1:m.start()]) and not _word_byte(data[m.end():m.end() + 1])}
        found -= _vocabulary(path) if found else set()
        if found:
            hits[str(path.relative_to(root))] = sorted(found)
    return hits


@pytest.fixture(scope="module")
def served(job_run):
    """The run's deployed negative_review pods (central, and edge with every edge answer shadowed)
    answering 24 real reviews of the run's history; returns the run's settings."""
    from commons.warehouse import Warehouse

    settings, _ = job_run
    rows = Warehouse(settings.warehouse_path).frame(
        "SELECT product_id, review_text FROM signal_history WHERE intake = 'reviews' ORDER BY content_digest "
        "LIMIT 24").to_dicts()
    body = {"records": [{"product_id": r["product_id"], "review_text": "\n".join(r["review_text"])} for r in rows]}
    deploy = settings.deploy_dir / "negative_review"
    with running_token_plane(settings) as plane, \
            running_pod(deploy / "central", settings, tokens=plane) as central_url, \
            running_pod(deploy / "champion", settings, central_url=central_url, shadow_rate=1.0,
                        tokens=plane) as edge_url:
        auth = BearerAuth(plane.client("leak-scan", ["negative_review"]), "negative_review")
        assert httpx.post(f"{edge_url}/v1/decisions/negative_review", json=body, timeout=60,
                          auth=auth).status_code == 200
    return settings


def test_no_scrubbed_pii_value_in_any_file_the_run_wrote(served, slice_data):
    values, ambiguous = scrubbed_values(slice_data / "reviews")
    # The scan looks for real names too, not only the two known identifiers.
    assert {KNOWN_EMAIL, KNOWN_PHONE} <= values and len(values) > 50, (len(values), sorted(ambiguous))
    assert files_holding(served.state_dir, values) == {}


def test_no_review_text_or_field_outside_the_contract_in_decision_logs_or_mlflow_artifacts(served):
    from commons.warehouse import Warehouse

    texts = {t for texts in Warehouse(served.warehouse_path).frame(
        "SELECT review_text FROM signal_history WHERE intake = 'reviews'")["review_text"] for t in texts
        if len(t) >= MIN_TEXT_CHARS}
    assert len(texts) > 100
    for root in (served.decision_log_dir, served.artifact_root):
        assert files_holding(root, texts) == {}, root
    lines = [json.loads(raw) for path in served.decision_log_dir.rglob("*.jsonl")
             for raw in path.read_text(encoding="utf-8").splitlines()]
    records = [record_of(line) for line in lines if "checkpoint" not in line]
    assert records and all(set(r) <= LOG_KEYS for r in records)
    # The only contract field a line carries is the key: features never reach the log.
    features = {n for n, spec in NEGATIVE_REVIEW["fields"].items() if spec["role"] == "feature"}
    assert not any(features & set(r) for r in records)


def _copy_state(source: Path, target: Path) -> None:
    """A copy of a state folder other workers may still be writing: a file that goes while it is
    copied (a SQLite ``-shm``) is left out."""
    for path in sorted(source.rglob("*")):
        copied = target / path.relative_to(source)
        if path.is_dir() and not path.is_symlink():
            copied.mkdir(parents=True, exist_ok=True)
        elif path.is_file() and not path.is_symlink():
            copied.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copy2(path, copied)
            except FileNotFoundError:
                continue


def test_an_erased_product_is_in_no_file_of_the_state_folder_but_the_erasure_register(served, tmp_path):
    """Erasure proved beyond the stores erasure knows: after ``erase --product`` on a copy of the
    run's state folder, a served review product and a harvested book are in no store of the
    policy (by query: DuckDB compresses strings, so its bytes cannot be searched) and in no
    file's bytes (Dagster's and MLflow's storage, models, crawl and process logs included) but
    the control audit log's erasure entries."""
    from commons.erasure import traces
    from commons.privacy_policy import load_policy
    from commons.privacy_report import unaccounted
    from commons.retention import StoreFolders
    from commons.warehouse import Warehouse
    from edge_insights.cli import app

    copy = dataclasses.replace(served, state_dir=tmp_path / "state")
    _copy_state(served.state_dir, copy.state_dir)
    policy, folders, warehouse = load_policy(), StoreFolders.of(copy), Warehouse(copy.warehouse_path)
    assert unaccounted(policy, warehouse, folders, copy.state_dir) == []
    logged = [json.loads(raw) for path in copy.decision_log_dir.rglob("*.jsonl")
              for raw in path.read_text(encoding="utf-8").splitlines()]
    review = Counter(line["product_id"] for line in logged if line.get("product_id")).most_common(1)[0][0]
    book = warehouse.frame("SELECT product_id FROM signal_history WHERE intake = 'books' "
                           "ORDER BY product_id LIMIT 1")["product_id"][0]
    subjects = {}
    for product in (review, book):
        # The product's own URLs: a URL another product shares (a review file) is no trace of it.
        urls = warehouse.frame("SELECT url FROM signal_history GROUP BY url HAVING min(product_id) = ? "
                               "AND max(product_id) = ?", [product, product])["url"].to_list()
        subjects[product] = {product, *urls}
        assert traces(policy, warehouse, folders, product)["signal_history"], product
    values = set().union(*subjects.values())
    assert any(f.startswith("decision_log/") for f in files_holding(copy.state_dir, values))

    for product in subjects:
        done = CliRunner().invoke(app, ["erase", "--product", product], env=copy.environment())
        assert done.exit_code == 0, done.output

    for product in subjects:
        left = traces(policy, warehouse, folders, product)
        assert not any(left.values()), (product, left)
    assert files_holding(copy.state_dir, values) == {"audit/control.jsonl": sorted(subjects)}
    erased = [e["details"]["value"] for e in read_events(copy.audit_dir / "control.jsonl") if e["action"] == "erasure"]
    assert erased == [review, book]
