"""``edge-insights audit keygen|verify`` and the control audit log the token commands write: real
keys under a temporary state folder, real files, exit 0 intact / 1 tampered / 2 unusable."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from commons.control_audit import read_events
from commons.token_keys import jwks_path, rotate_keys
from edge_insights.cli import app


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("EDGE_INSIGHTS_ACTOR", "release-bot")
    return tmp_path / "state"


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def audited(state) -> Path:
    """A state folder whose control log holds an audit key rotation, a token key rotation and a token."""
    for args in (("audit", "keygen"), ("token", "keygen"),
                 ("token", "issue", "--decision", "negative_review", "--sub", "ops")):
        done = invoke(*args)
        assert done.exit_code == 0, done.output
    return state


def test_token_and_key_commands_are_recorded_in_the_control_log(audited):
    events = read_events(audited / "audit" / "control.jsonl")
    assert [(e["action"], e["details"].get("key_set")) for e in events] == [
        ("key_rotation", "audit"), ("key_rotation", "tokens"), ("token_issue", None)]
    issued = events[-1]
    assert issued["actor"] == "release-bot" and issued["details"]["aud"] == "negative_review"
    assert issued["details"]["sub"] == "ops" and len(issued["details"]["jti"]) > 10
    raw = (audited / "audit" / "control.jsonl").read_text()
    # The token itself is never logged: no JWT (two base64url JSON parts and a signature). A bare
    # "eyJ" is no proof: a random signature in the log holds it now and then.
    assert not re.search(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+", raw)


def test_verify_accepts_the_intact_state_folder(audited):
    done = invoke("audit", "verify", str(audited))
    assert done.exit_code == 0, done.output
    [line] = done.output.splitlines()
    assert line.startswith(f"ok {audited / 'audit'}: 6 lines in 1 file(s), 3 checkpoints (3 signed and verified")


def test_verify_names_the_edited_line_and_exits_1(audited):
    log = audited / "audit" / "control.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    lines[4] = lines[4].replace('"sub":"ops"', '"sub":"someone-else"')
    log.write_text("".join(lines))
    done = invoke("audit", "verify", str(log))
    assert done.exit_code == 1
    assert done.output.strip() == f"TAMPERED {log}:5: edited: its content does not match its hash"


def test_checkpoints_signed_by_a_key_outside_the_given_jwks_are_untrusted(audited, tmp_path):
    rotate_keys(tmp_path / "elsewhere")
    done = invoke("audit", "verify", str(audited / "audit"), "--jwks", str(jwks_path(tmp_path / "elsewhere")))
    assert done.exit_code == 1
    assert "control.jsonl:2: untrusted_key" in done.output


@pytest.mark.parametrize("args, message", [
    (("nowhere",), "does not exist"),
    ((".",), "no hash-chained log"),
    (("items.jsonl",), "no hash-chained log in items.jsonl"),
    (("summary.json",), "no hash-chained log in summary.json"),
    (("",), "the path is empty"),
    (("a" * 5000,), "File name too long"),
])
def test_unusable_arguments_exit_2(state, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "items.jsonl").write_text(json.dumps({"url": "x"}) + "\n")
    (tmp_path / "summary.json").write_text(json.dumps({"run": "x"}, indent=1))
    done = invoke("audit", "verify", *args)
    assert done.exit_code == 2 and message in done.output


def test_a_jwks_that_is_not_one_exits_2(audited, tmp_path):
    (tmp_path / "bad.json").write_text("[]")
    done = invoke("audit", "verify", str(audited), "--jwks", str(tmp_path / "bad.json"))
    assert done.exit_code == 2 and "is not a readable JWK Set" in done.output


def test_a_jwks_without_a_usable_key_exits_2_rather_than_blaming_the_log(audited, tmp_path):
    (tmp_path / "keyless.json").write_text(json.dumps({"keys": [{"kty": "OKP"}]}))
    done = invoke("audit", "verify", str(audited), "--jwks", str(tmp_path / "keyless.json"))
    assert done.exit_code == 2 and "no usable Ed25519 key" in done.output


def test_a_log_emptied_to_nothing_is_truncated_not_ok(audited):
    log = audited / "audit" / "control.jsonl"
    log.write_bytes(b"")
    done = invoke("audit", "verify", str(audited))
    assert done.exit_code == 1
    assert done.output.strip() == (f"TAMPERED {log}:1: truncated: the log holds no line, yet its last checkpoint "
                                   "(chain-head.json) was written as line 6")


@pytest.mark.parametrize("where", ["audit", "."])
def test_a_torn_last_event_is_reported_as_truncated_not_a_crash(audited, where):
    """A crash mid-write of control.jsonl: verifying it, or any log (its events give the expiry
    anchors), reports the torn line and exits 1."""
    log = audited / "audit" / "control.jsonl"
    with open(log, "ab") as fh:
        fh.write(b'{"action":"promo')
    done = invoke("audit", "verify", str(audited / where))
    assert done.exit_code == 1, done.output
    assert done.output.strip() == f"TAMPERED {log}:7: truncated: the last line is torn (no newline)"
