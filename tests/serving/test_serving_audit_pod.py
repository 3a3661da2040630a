"""A real pod on loopback writes a hash-chained decision log that ``edge-insights audit verify``
accepts, with a signed checkpoint when it stops; an edit to a line is caught at that line. A pod
without an audit key still chains and says its checkpoints are unsigned."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from test_serving_pod import REPO, URL, read_log, running_pod

from commons.chain_writer import HEAD_FILE
from commons.token_keys import jwks_path, rotate_keys

pytestmark = pytest.mark.slow  # starts processes


def audit_verify(*args: str, state: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_insights", "audit", "verify", *args], cwd=REPO,
                          env={**os.environ, "EDGE_INSIGHTS_STATE_DIR": str(state)}, capture_output=True,
                          text=True, timeout=60, check=False)


def serve_some(edge_bundle, workdir: Path) -> Path:
    """Run a pod, send it three batches, stop it; returns its decision log folder."""
    with running_pod(edge_bundle.path, workdir) as pod:
        for start in range(0, 9, 3):
            body = {"records": [{"review_text": s, "product_id": f"sku-{start + i}"}
                                for i, s in enumerate(edge_bundle.sentences[start:start + 3])]}
            assert httpx.post(pod.url + URL, json=body, timeout=10.0).status_code == 200
        assert len(read_log(pod.log_dir, 9)) == 9
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
