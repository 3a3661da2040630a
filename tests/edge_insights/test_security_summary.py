"""The demo's security summary against a real pod started as the demo starts it (auth on) and a real
token endpoint: every bad-credential probe is refused and counted by its reason, the tokens the
clients fetched are counted by subject, ``audit verify`` passes on the state folder, and the table
prints it."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest
from rich.console import Console

from commons.settings import Settings
from commons.token_client import BearerAuth
from commons.token_keys import rotate_keys
from edge_insights.broker_load import PRICE_WINDOW, deploy_rule_pod
from edge_insights.pods import running_pod, running_token_plane
from edge_insights.report import security_table
from edge_insights.security_summary import PROBES, probe_pod, refusals, security_summary
from release_keys import session_signer

pytestmark = pytest.mark.slow  # starts processes

RECORD = {"title": "Kettle", "prices": [1000.0] * (PRICE_WINDOW - 1) + [1500.0]}


def test_probes_are_refused_counted_and_summarised(tmp_path, capsys):
    settings = Settings.from_env(state_dir=tmp_path / "state").ensure()
    since = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    rotate_keys(settings.audit_dir)
    with running_token_plane(settings) as plane:
        client = BearerAuth(plane.client("demo", ["price_spike"]), "price_spike")
        scraper = BearerAuth(plane.client("scraper", ["price_spike"], scope="metrics", scopes=("metrics",)),
                             "price_spike")
        with running_pod(deploy_rule_pod(tmp_path / "pod", session_signer()), settings, tokens=plane) as url:
            assert httpx.post(f"{url}/v1/decisions/price_spike", json={"records": [RECORD]}, auth=client,
                              timeout=10.0).status_code == 200
            probes = probe_pod(url, "price_spike", RECORD, settings.tokens_dir)
            refused = refusals(url, scraper)
    assert probes == {"no_token": 401, "alg_none": 401, "unknown_key": 401, "expired": 401,
                      "other_audience": 403, "wrong_scope": 403}
    assert list(probes) == list(PROBES)
    assert refused == {"token_missing": 1, "token_bad_algorithm": 1, "token_unknown_kid": 1, "token_expired": 1,
                       "token_wrong_audience": 1, "token_wrong_scope": 1}
    summary = security_summary(settings, since, {"price_spike": {"security": {"probes": probes,
                                                                             "refused": {"edge": refused}}}})
    assert summary["tokens_issued"] == {"demo": 1, "scraper": 1}
    assert (summary["probes_tried"], summary["probes_refused"]) == (6, 6)
    assert summary["refused_by_reason"] == refused
    # The control audit log (a key rotation and two tokens issued, each with its checkpoint, signed:
    # an audit key was made first) and the pod's decision log (one decision, a stop checkpoint) verify.
    verify = summary["audit_verify"]
    assert verify["exit"] == 0, verify
    ok = [line for line in verify["lines"] if line.startswith("ok ")]
    assert len(ok) == 2
    assert any(f"{settings.audit_dir}: 6 lines" in line and "(3 signed and verified, 0 unsigned)" in line
               for line in ok), ok
    assert any(str(settings.decision_log_dir) in line for line in ok), ok
    Console(width=200).print(security_table(summary))
    printed = capsys.readouterr().out
    assert "2 to 2 clients: demo 1, scraper 1" in printed and "6 of 6 refused" in printed
    assert "token_expired 1" in printed and "intact (exit 0)" in printed
