"""The demo's serve-step helpers send held-out records and latency probes as replay traffic: a real rule pod
of price_spike (auth on, as the demo starts it), the token endpoint a real process; the client holds
scope ``replay`` as the demo's does, and one without it cannot get a token asking for it."""

from __future__ import annotations

import httpx
import pytest

from commons.settings import Settings
from commons.token_client import BearerAuth, TokenFetchError
from commons.traffic import REPLAY
from edge_insights.broker_load import deploy_rule_pod
from edge_insights.demo import send_records, single_decision_latency
from edge_insights.pods import running_pod, running_token_plane
from release_keys import session_signer
from training.divergence import read_decisions, traffic_of

pytestmark = pytest.mark.slow  # starts processes

DECISION = "price_spike"


def _records(n: int) -> list[dict]:
    # Each window's newest price doubles the one before: the rule calls a spike on every fourth.
    return [{"product_id": f"p{i}", "title": f"Product {i}",
             "prices": [2000.0 if i % 4 == 0 else 1000.0] + [1000.0] * 31} for i in range(n)]


def test_records_and_probes_sent_as_replay_are_logged_as_replay(tmp_path):
    settings = Settings.from_env(state_dir=tmp_path / "state").ensure()
    records = _records(20)
    with running_token_plane(settings) as plane, \
            running_pod(deploy_rule_pod(tmp_path / "pod", session_signer()), settings, tokens=plane) as url:
        demo = BearerAuth(plane.client("demo-price_spike", [DECISION], scope="decide replay",
                                       scopes=("decide", "replay")), DECISION)
        decided, _ = send_records(url, DECISION, records, auth=demo, traffic=REPLAY)
        single_decision_latency(url, DECISION, records, n=5, auth=demo, traffic=REPLAY)
        production, _ = send_records(url, DECISION, records[:3], auth=demo)
        plain = BearerAuth(plane.client("plain", [DECISION], scope="decide replay"), DECISION)
        with pytest.raises(TokenFetchError, match="invalid_scope"):
            send_records(url, DECISION, records[:1], auth=plain, traffic=REPLAY)
        decide_only = BearerAuth(plane.client("decide-only", [DECISION]), DECISION)
        with pytest.raises(httpx.HTTPStatusError, match="403"):
            send_records(url, DECISION, records[:1], auth=decide_only, traffic=REPLAY)
    assert [d["label"] for d in decided[:4]] == ["spike", "normal", "normal", "normal"] and len(production) == 3
    logged = [traffic_of(row) for row in read_decisions(settings.decision_log_dir, DECISION)]
    assert logged == [REPLAY] * 25 + ["production"] * 3
