"""``running_pod`` (the demo's, the live loop's and the tests' way to start a pod) requires tokens
unless told otherwise, and says so loudly when told: real rule pods on loopback."""

from __future__ import annotations

import logging

import httpx
import pytest

from commons.settings import Settings
from commons.token_keys import jwks_path
from edge_insights.broker_load import PRICE_WINDOW, deploy_rule_pod
from edge_insights.pods import running_pod
from release_keys import session_signer

pytestmark = pytest.mark.slow  # starts processes

BODY = {"records": [{"title": "Kettle", "prices": [1000.0] * PRICE_WINDOW}]}


def test_a_pod_requires_tokens_by_default(tmp_path):
    settings = Settings.from_env(state_dir=tmp_path / "state").ensure()
    with running_pod(deploy_rule_pod(tmp_path / "pod", session_signer()), settings) as url:
        reply = httpx.post(f"{url}/v1/decisions/price_spike", json=BODY, timeout=10.0)
    assert reply.status_code == 401 and reply.json()["reason"] == "token_missing"
    # The state folder got its first signing key, and the pod the JWKS.
    assert jwks_path(settings.tokens_dir).is_file()
    log = next(settings.logs_dir.glob("pod-pod-*.log")).read_text()
    assert "AUTH IS OFF" not in log


def test_auth_off_is_explicit_and_logged_loudly(tmp_path, caplog):
    settings = Settings.from_env(state_dir=tmp_path / "state").ensure()
    with caplog.at_level(logging.WARNING, logger="edge_insights.pods"), \
            running_pod(deploy_rule_pod(tmp_path / "pod", session_signer()), settings, auth_off=True) as url:
        reply = httpx.post(f"{url}/v1/decisions/price_spike", json=BODY, timeout=10.0)
    assert reply.status_code == 200
    assert [r.levelname for r in caplog.records if "AUTH IS OFF" in r.getMessage()] == ["WARNING"]
    assert "AUTH IS OFF" in next(settings.logs_dir.glob("pod-pod-*.log")).read_text()
    assert not jwks_path(settings.tokens_dir).exists()
