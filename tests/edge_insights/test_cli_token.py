"""``edge-insights token keygen`` and ``token issue``: keys under the state folder, tokens a pod
accepts, clean usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from commons.token_keys import jwks_path
from edge_insights.cli import app
from serving.auth import PodAuth, TokenVerifier


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_keygen_then_issue_gives_a_token_the_pod_accepts(state):
    made = invoke("token", "keygen")
    assert made.exit_code == 0, made.output
    jwks = jwks_path(state / "tokens")
    assert f"JWKS for pods: {jwks}" in made.output
    issued = invoke("token", "issue", "--decision", "urgent_inventory", "--scope", "decide", "--scope", "metrics",
                    "--ttl", "5m", "--sub", "ops")
    assert issued.exit_code == 0, issued.output
    claims = TokenVerifier(PodAuth(jwks)).verify(f"Bearer {issued.output.strip()}", audience="urgent_inventory",
                                                 scope="metrics")
    assert (claims["sub"], claims["scope"], claims["exp"] - claims["iat"]) == ("ops", "decide metrics", 300)


def test_issue_before_keygen_says_what_to_run(state):
    result = invoke("token", "issue", "--decision", "negative_review")
    assert result.exit_code == 2
    assert "run `edge-insights token keygen` first" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("args, named", [
    (("--ttl", "5 minutes"), "--ttl"),
    (("--ttl", "2d"), "--ttl"),
    (("--scope", "root"), "scopes must be some of decide, metrics, admin"),
    # Bytes the locale could not decode reach Python as a lone surrogate: no token can hold one.
    (("--sub", "a\udcffb"), "Invalid value for '--sub': must be valid UTF-8"),
])
def test_bad_issue_options_are_usage_errors(state, args, named):
    assert invoke("token", "keygen").exit_code == 0
    result = invoke("token", "issue", "--decision", "negative_review", *args)
    assert result.exit_code == 2, result.output
    assert named in " ".join(result.output.replace("│", " ").split()) and "Traceback" not in result.output


@pytest.mark.parametrize("args", [("--issuer", "x"), ("--replay-protection",)])
def test_serve_token_options_need_a_jwks(state, args):
    result = invoke("serve", *args)
    assert result.exit_code == 2 and "need --jwks" in " ".join(result.output.replace("│", " ").split())
