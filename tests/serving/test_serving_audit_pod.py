"""A real pod on loopback writes a hash-chained decision log that ``edge-insights audit verify``
accepts, with a signed checkpoint when it stops; an edit to a line is caught at that line. A pod
without an audit key still chains and says its checkpoints are unsigned. A pod chaining on from
lines logged before ``route_reason`` existed leaves a log that verifies and reads whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from test_serving_pod import REPO, URL, read_log, running_pod

from commons.chain_writer import HEAD_FILE, ChainWriter
from commons.token_keys import jwks_path, rotate_keys
from training.divergence import divergence_reports, read_decisions

pytestmark = pytest.mark.slow  # starts processes


def audit_verify(*args: str, state: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_insights", "audit", "verify", *args], cwd=REPO,
                          env={**os.environ, "EDGE_INSIGHTS_STATE_DIR": str(state)}, capture_output=True,
                          text=True, timeout=60, check=False)


def serve_some(edge_bundle, workdir: Path, logged_before: int = 0) -> Path:
    """Run a pod, send it three batches, stop it; returns its decision log folder (which held
    ``logged_before`` decisions already)."""
    with running_pod(edge_bundle.path, workdir) as pod:
        for start in range(0, 9, 3):
            body = {"records": [{"review_text": s, "product_id": f"sku-{start + i}"}
                                for i, s in enumerate(edge_bundle.sentences[start:start + 3])]}
            assert httpx.post(pod.url + URL, json=body, timeout=10.0).status_code == 200
        assert len(read_log(pod.log_dir, logged_before + 9)) == logged_before + 9
    return pod.log_dir / "negative_review"


def test_a_pod_signs_its_chained_log_and_an_edit_is_caught(edge_bundle, tmp_path):
    state = tmp_path / "state"
    key = rotate_keys(state / "audit")
    log = serve_some(edge_bundle, tmp_path)
    head = json.loads((log / HEAD_FILE).read_text())
    assert head["checkpoint"]["reason"] == "stop" and head["checkpoint"]["kid"] == key.kid
    assert head["checkpoint"]["lines"] == 9

    done = audit_verify(str(tmp_path / "decision_log"), "--jwks", str(jwks_path(state / "audit")), state=state)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "10 lines in 1 file(s), 1 checkpoints (1 signed and verified, 0 unsigned)" in done.stdout

    [day] = sorted(log.glob("*.jsonl"))
    lines = day.read_text().splitlines(keepends=True)
    edited = json.loads(lines[4])
    edited["label"] = "not_negative" if edited["label"] == "negative" else "negative"
    lines[4] = json.dumps(edited, separators=(",", ":"), sort_keys=True) + "\n"
    day.write_text("".join(lines))
    done = audit_verify(str(tmp_path / "decision_log"), state=state)  # trusts <state>/audit/jwks.json
    assert done.returncode == 1
    assert done.stdout.strip() == f"TAMPERED {day}:5: edited: its content does not match its hash"


def test_a_pod_without_an_audit_key_chains_with_unsigned_checkpoints(edge_bundle, tmp_path):
    log = serve_some(edge_bundle, tmp_path)
    assert "checkpoints are UNSIGNED" in (tmp_path / "pod.err").read_text()
    state = tmp_path / "state"
    done = audit_verify(str(log), state=state)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 checkpoints (0 signed and verified, 1 unsigned)" in done.stdout
    rotate_keys(state / "audit")
    assert audit_verify(str(log), "--require-signed", state=state).returncode == 1


def _line_before_route_reasons(i: int, edge_bundle) -> dict:
    """A decision line as pods wrote it before they logged ``route_reason``."""
    sha = edge_bundle.manifest["bundle_sha256"]
    return {"ts": f"2026-11-01T10:00:0{i}.000+00:00", "decision": "negative_review", "label": "negative",
            "score": 0.9, "route": "edge", "model_version": "3", "bundle_sha256": sha, "signal_digest": f"{i:064x}",
            "latency_ms": 1.5, "product_id": f"old-{i}", "edge_label": "negative", "edge_score": 0.9,
            "edge_bundle_sha256": sha, "central_label": None, "central_score": None, "central_bundle_sha256": None,
            "central_error": None, "shadow": False, "inputs": {"text_words": 12.0, "text_oov_share": 0.1}}


def test_a_pod_chains_on_from_lines_without_a_route_reason_and_the_reason_is_hash_covered(edge_bundle, tmp_path):
    state = tmp_path / "state"
    rotate_keys(state / "audit")
    old = ChainWriter(tmp_path / "decision_log" / "negative_review", None)
    old.append([_line_before_route_reasons(i, edge_bundle) for i in range(2)], "decisions-20261101.jsonl")
    old.close()
    log = serve_some(edge_bundle, tmp_path, logged_before=2)
    done = audit_verify(str(tmp_path / "decision_log"), state=state)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "12 lines in 2 file(s)" in done.stdout

    rows = read_decisions(tmp_path / "decision_log", "negative_review")
    abstain = edge_bundle.manifest["thresholds"]["abstain"]
    unsure = int((edge_bundle.confidences[:9] < abstain).sum())
    assert 0 < unsure < 9
    assert [r.get("route_reason") for r in rows[:2]] == [None, None]
    # No central: an unsure record keeps the edge's answer, and the log says why.
    assert divergence_reports(tmp_path / "decision_log", ["negative_review"])["negative_review"]["routes"] == {
        "edge": {"confident": 9 - unsure, "no_central": unsure, "unrecorded": 2}}

    [day] = [p for p in sorted(log.glob("*.jsonl")) if p.name != "decisions-20261101.jsonl"]
    lines = day.read_text().splitlines(keepends=True)
    edited = json.loads(lines[4])
    edited["route_reason"] = "confident" if edited["route_reason"] == "no_central" else "no_central"
    lines[4] = json.dumps(edited, separators=(",", ":"), sort_keys=True, ensure_ascii=False) + "\n"
    day.write_text("".join(lines))
    done = audit_verify(str(tmp_path / "decision_log"), state=state)
    assert done.returncode == 1
    assert done.stdout.strip() == f"TAMPERED {day}:5: edited: its content does not match its hash"
