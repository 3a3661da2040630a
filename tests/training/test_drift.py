"""Units of drift detection (training.drift, serving.input_profile) on real reviews and prices."""

from __future__ import annotations

import csv
import gzip
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import hypergeom
from tokenizers import Tokenizer

from commons.chain_verify import verify_folder
from commons.traffic import PRODUCTION, REPLAY
from crawlers.feeds import read_feed_file
from serving.contract import ModelInputs, NumericInput
from serving.decision_log import DecisionLog, log_entry
from serving.input_profile import input_profile
from serving.router import Routed
from training.divergence import divergence_reports, read_decisions
from training.drift import (ALPHA, COOLDOWN, MAX_COOLDOWN, MIN_SHADOW, assess, decide, disagreement_baseline,
                            disagreement_test, psi, reference_bins)
from training.encoder import base_model_path

REVIEWS = ModelInputs(("review_text",))
PRICES = ModelInputs(("title",), (NumericInput("prices", 32),))


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer.from_file(str(base_model_path() / "tokenizer.json"))


def _profiles(tokenizer: Tokenizer, data_dir: Path, name: str) -> list[dict[str, float]]:
    load = read_feed_file(data_dir / "reviews" / name, "drift-test")
    return [input_profile(tokenizer, REVIEWS, {"review_text": text})
            for record in load.records for text in record["review_text"]]


def test_input_profile_of_a_real_review(tokenizer, data_dir):
    load = read_feed_file(data_dir / "reviews/uci_sentiment_sentences/imdb_labelled.txt", "drift-test")
    text = load.records[0]["review_text"][0]
    assert text == "A very, very, very slow-moving, aimless movie about a distressed, drifting young man."
    # 14 words and 6 punctuation marks; of them only "aimless" is not one piece of BERT's vocabulary.
    assert input_profile(tokenizer, REVIEWS, {"review_text": text}) == {"text_words": 20.0, "oov_share": 0.05}
    assert tokenizer.token_to_id("aimless") is None and tokenizer.token_to_id("drifting") is not None


def test_input_profile_of_a_real_price_window(tokenizer, data_dir):
    with gzip.open(data_dir / "price_history_amazon_jp/observations.csv.gz", "rt", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["asin"] == "B0BXSKY533"][:32]
    window = [float(r["price"]) for r in reversed(rows)]  # newest first, as the contract wants
    assert len(window) == 32 and window[-1] == 5490.0  # the oldest is the file's first line
    profile = input_profile(tokenizer, PRICES, {"title": "Anker charger", "prices": window})
    assert profile["prices_log_level"] == pytest.approx(math.log1p(window[0]), abs=1e-4)
    assert profile["prices_log_change"] == pytest.approx(math.log1p(window[0]) - math.log1p(np.median(window)),
                                                         abs=1e-4)


def test_psi_is_small_within_a_source_and_large_across_domains(tokenizer, data_dir):
    amazon = _profiles(tokenizer, data_dir, "datafiniti_amazon_reviews.csv")
    imdb = _profiles(tokenizer, data_dir, "uci_sentiment_sentences/imdb_labelled.txt")
    reference, same_source = amazon[::2], amazon[1::2]
    words = reference_bins(p["text_words"] for p in reference)
    assert sum(words["shares"]) == pytest.approx(1.0) and len(words["shares"]) == len(words["edges"]) + 1
    assert psi(words, (p["text_words"] for p in reference)) == pytest.approx(0.0, abs=1e-12)
    # The other half of the same Amazon file is stable (< 0.1); one-line film reviews are a major shift.
    assert psi(words, (p["text_words"] for p in same_source)) < 0.1
    assert psi(words, (p["text_words"] for p in imdb)) > 1.0
    oov = reference_bins(p["oov_share"] for p in reference)
    assert psi(oov, (p["oov_share"] for p in same_source)) < 0.1
    assert psi(oov, (p["oov_share"] for p in imdb)) > 0.25


def test_disagreement_test_is_the_hypergeometric_tail():
    # Fisher's one-sided p = P(X ≥ x) for X ~ Hypergeom(total, total disagreements, production n).
    for x, n, x0, n0 in ((30, 200, 10, 150), (12, 120, 9, 110), (0, 100, 0, 40)):
        expected = hypergeom.sf(x - 1, n + n0, x + x0, n)
        assert disagreement_test(x, n, x0, n0) == pytest.approx(expected, rel=1e-9)
    assert disagreement_test(0, 0, 5, 100) == 1.0


def test_disagreement_baseline_counts_only_kept_examples():
    edge = np.array([1, 0, 1, 1, 0, 0])
    central = np.array([1, 1, 0, 1, 0, 1])
    confidence = np.array([0.9, 0.95, 0.55, 0.8, 0.99, 0.6])
    base = disagreement_baseline(edge, central, confidence, abstain=0.7)
    # Kept: indices 0, 1, 3, 4 (confidence ≥ 0.7); of them only index 1 disagrees.
    assert base == {"disagreement": 0.25, "disagreements": 1, "n": 4, "disagreement_all": 0.5, "n_all": 6}


def _lines(count: int, disagreeing: int, sha: str, start: datetime, profile: dict[str, float],
           traffic: str = PRODUCTION) -> list[dict]:
    """Shadow decision-log lines (the pod's own format) with ``disagreeing`` label mismatches."""
    lines = []
    for i in range(count):
        central = "not_negative" if i < disagreeing else "negative"
        routed = Routed(label="negative", score=0.9, route="edge", route_reason="confident",
                        model_version="1", bundle_sha256=sha,
                        signal_digest=f"{i:064x}", latency_ms=1.0, edge_label="negative", edge_score=0.9,
                        edge_bundle_sha256=sha, central_label=central, central_score=0.8,
                        central_bundle_sha256="c" * 64, shadow=True, inputs=profile)
        lines.append(log_entry(routed, "negative_review", None, start + timedelta(seconds=i), traffic))
    return lines


def test_assess_and_ledger_request_once_then_record_a_refused_retrain():
    sha, start = "e" * 64, datetime(2026, 11, 30, tzinfo=timezone.utc)
    reference = reference_bins([5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0])
    baseline = {"disagreement": 0.05, "disagreements": 10, "n": 200, "reference": {"text_words": reference}}
    same = _lines(MIN_SHADOW + 50, 8, sha, start, {"text_words": 22.0})
    quiet = assess(same, baseline, sha)
    assert (quiet.shadow_compared, quiet.shadow_disagreements) == (150, 8) and not quiet.drifted
    assert quiet.p_value == pytest.approx(hypergeom.sf(7, 350, 18, 150))
    assert quiet.psi == {}  # 150 decisions are below MIN_INPUTS: not tested
    worse = _lines(150, 30, sha, start, {"text_words": 22.0})
    report = assess(worse + _lines(60, 0, "other" * 8, start, {"text_words": 22.0}), baseline, sha)
    assert report.decisions == 150 and report.p_value < ALPHA and report.drifted

    now = start + timedelta(hours=1)
    first = decide(None, sha, report, now, worse[-1]["ts"], None)
    assert first.request and first.ledger["since"] == worse[-1]["ts"]
    # Same evidence within the cooldown: no second request.
    again = decide(first.ledger, sha, report, now + timedelta(minutes=5), worse[-1]["ts"], None)
    assert not again.request and "cooling down" in again.note
    # The retrain ran and the gate refused its challenger: recorded, cooldown doubled, window restarted.
    refused = {"promoted": False, "reason": "challenger F1 0.80 < champion F1 0.81 on the same split",
               "published_at": (now + timedelta(minutes=30)).isoformat()}
    after = decide(again.ledger, sha, report, now + timedelta(hours=7), worse[-1]["ts"], refused)
    assert not after.request and after.ledger["refused"][0]["reason"].startswith("challenger F1 0.80")
    assert after.ledger["cooldown_s"] == 2 * COOLDOWN.total_seconds()
    assert after.ledger["since"] == refused["published_at"]
    later = decide(after.ledger, sha, report, now + timedelta(hours=12), worse[-1]["ts"], refused)
    assert not later.request and "cooling down" in later.note  # 12 h doubled cooldown from hour 7
    # A newly deployed bundle starts a fresh ledger window with the base cooldown.
    fresh = decide(later.ledger, "f" * 64, quiet, now + timedelta(hours=30), None, refused)
    assert not fresh.request and fresh.ledger["cooldown_s"] == COOLDOWN.total_seconds()
    assert fresh.ledger["since"] is None and len(fresh.ledger["refused"]) == 1


def test_lines_logged_before_route_reasons_read_as_they_did_and_count_as_unrecorded(tmp_path):
    """A log that pods began before ``route_reason`` existed: the sensor's assessment is the same
    over its old lines as over new ones, and the divergence report counts them apart."""
    sha, start = "e" * 64, datetime(2026, 11, 30, tzinfo=timezone.utc)
    baseline = {"disagreement": 0.05, "disagreements": 10, "n": 200, "reference": {}}
    new = _lines(150, 30, sha, start, {"text_words": 22.0})
    old = [{k: v for k, v in line.items() if k != "route_reason"} for line in new]
    assert assess(old, baseline, sha) == assess(new, baseline, sha)
    assert assess(old, baseline, sha).drifted
    routed = [{**line, "route": "central", "shadow": False, "central_label": "negative", "route_reason": reason}
              for line, reason in zip(new[:3], ("abstain", "abstain", "out_of_range"))]
    log = DecisionLog(tmp_path)
    log.append(old[:100] + new[100:] + routed)
    log.close()
    report = divergence_reports(tmp_path, ["negative_review"])["negative_review"]
    assert report["routes"] == {"central": {"abstain": 2, "out_of_range": 1}, "edge": {"confident": 50,
                                                                                      "unrecorded": 100}}
    # Central answered the three routed lines as the edge did.
    assert {reason: (d["decisions"], d["disagreements"]) for reason, d in report["routed_by_reason"].items()} == {
        "abstain": (2, 0), "out_of_range": (1, 0)}
    assert report["shadow"]["compared"] == 150


def test_replayed_lines_are_left_out_of_the_drift_test_and_the_report_and_counted_apart(tmp_path):
    """An eval split replayed through the pod agrees with central as it did at release: 1,000 such
    lines beside 150 drifted production lines would hide the drift (30 of 1,150 disagree, 2.6 % < the
    5 % baseline). Only production lines are tested; lines logged before ``traffic`` existed are
    production."""
    sha, start = "e" * 64, datetime(2026, 11, 30, tzinfo=timezone.utc)
    baseline = {"disagreement": 0.05, "disagreements": 10, "n": 200, "reference": {}}
    live = _lines(150, 30, sha, start, {"text_words": 22.0})
    replayed = _lines(1000, 0, sha, start + timedelta(minutes=10), {"text_words": 22.0}, REPLAY)
    mixed = assess(live + replayed, baseline, sha)
    assert assess(live + [{**line, "traffic": PRODUCTION} for line in replayed], baseline, sha).drifted is False
    assert mixed.drifted and (mixed.decisions, mixed.shadow_compared, mixed.shadow_disagreements) == (150, 150, 30)
    assert mixed.p_value == assess(live, baseline, sha).p_value
    assert mixed.replay == {"decisions": 1000, "shadow_compared": 1000, "shadow_disagreements": 0}
    old = [{k: v for k, v in line.items() if k != "traffic"} for line in live]
    assert assess(old + replayed, baseline, sha) == mixed

    log = DecisionLog(tmp_path)
    log.append(old[:50] + live[50:] + replayed[:40])
    log.close()
    report = divergence_reports(tmp_path, ["negative_review"])["negative_review"]
    assert (report["shadow"]["decisions"], report["shadow"]["disagreements"]) == (150, 30)
    assert report["routes"] == {"edge": {"confident": 150}}
    assert report["replay"] == {"decisions": 40, "shadow": {"decisions": 40, "compared": 40, "disagreements": 0,
                                                            "disagreement_rate": 0.0, "js_divergence": 0.0}}


def test_the_chained_log_reads_back_as_the_decisions_logged(tmp_path):
    """Readers of the decision log (drift, divergence, the notebook, the drill) see exactly the
    entries the pod logged: checkpoint lines skipped, chain members dropped."""
    sha, start = "e" * 64, datetime(2026, 11, 30, 23, 59, 50, tzinfo=timezone.utc)
    lines = _lines(30, 5, sha, start, {"text_words": 22.0})  # crosses midnight: two day files
    log = DecisionLog(tmp_path, checkpoint_every=7)
    for i in range(0, 30, 4):
        log.append(lines[i:i + 4])
    log.close()
    raw = [line for path in sorted((tmp_path / "negative_review").glob("*.jsonl"))
           for line in path.read_text().splitlines()]
    assert len(raw) > 30 and sum('"checkpoint"' in line for line in raw) == 5
    assert read_decisions(tmp_path, "negative_review") == lines
    assert read_decisions(tmp_path, "negative_review", since_ts=lines[19]["ts"]) == lines[20:]


def test_a_torn_line_left_by_a_crash_is_skipped_and_the_lines_around_it_are_read(tmp_path, caplog):
    """A pod that crashed mid-write leaves a torn line; the restarted pod chains past it. Readers
    (explain, the drift sensor, erasure, the digest) skip it with a warning; `audit verify` reports it."""
    sha, start = "e" * 64, datetime(2026, 11, 30, 12, 0, 0, tzinfo=timezone.utc)
    lines = _lines(6, 0, sha, start, {"text_words": 22.0})
    log = DecisionLog(tmp_path, checkpoint_every=100)
    log.append(lines[:3])
    (path,) = (tmp_path / "negative_review").glob("*.jsonl")
    with open(path, "ab") as fh:
        fh.write(b'{"bundle_sha256":"c77d')  # the crash
    restarted = DecisionLog(tmp_path, checkpoint_every=100)
    restarted.append(lines[3:])
    restarted.close()
    assert read_decisions(tmp_path, "negative_review") == lines
    assert read_decisions(tmp_path, "negative_review", since_ts=lines[3]["ts"]) == lines[4:]
    assert f"{path}: skipped 1 torn line(s) (line 4)" in caplog.text
    fault = verify_folder(tmp_path / "negative_review").fault
    assert (fault.line, fault.kind) == (4, "truncated")


def test_a_line_the_pod_is_still_writing_is_left_for_the_next_read(tmp_path):
    """The drift drill reads the log while the pod appends: a half-written last line is no error."""
    sha, start = "e" * 64, datetime(2026, 11, 30, 12, 0, 0, tzinfo=timezone.utc)
    lines = _lines(4, 0, sha, start, {"text_words": 22.0})
    log = DecisionLog(tmp_path, checkpoint_every=100)
    log.append(lines[:3])
    (path,) = (tmp_path / "negative_review").glob("*.jsonl")
    whole = path.read_text()
    log.append(lines[3:])
    tail = path.read_text()[len(whole):]
    path.write_text(whole + tail[:len(tail) // 2])  # the pod's write, caught halfway
    assert read_decisions(tmp_path, "negative_review") == lines[:3]
    path.write_text(whole + tail)
    assert read_decisions(tmp_path, "negative_review") == lines


def test_a_refused_retrain_doubles_the_cooldown_no_further_than_its_bound():
    now, sha = datetime(2026, 11, 30, tzinfo=timezone.utc), "e" * 64
    quiet = assess([], {"disagreement": 0.05, "disagreements": 10, "n": 200, "reference": {}}, sha)
    entry = {"bundle_sha256": sha, "since": None, "requested_at": (now - timedelta(hours=1)).isoformat(),
             "cooldown_s": MAX_COOLDOWN.total_seconds() * 0.75, "refused": []}
    refused = {"promoted": False, "reason": "r", "published_at": now.isoformat()}
    after = decide(entry, sha, quiet, now, None, refused)
    assert after.ledger["cooldown_s"] == MAX_COOLDOWN.total_seconds()
    assert after.ledger["cooled_until"] == (now + MAX_COOLDOWN).isoformat()
