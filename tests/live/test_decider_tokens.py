"""The live loop's decider authenticates with its own token: a real pod started as the demo starts it
(auth on), the token endpoint a real process, the embedded store. With its client credential every
change becomes an insight; without one the pod's 401 fails the change with its reason, and a token
refused mid-run (a key rotation retiring the key) is replaced without losing a change."""

from __future__ import annotations

import json

import pytest

from commons.net import free_port
from commons.token_keys import rotate_keys
from edge_insights.broker_load import append_price_change, deploy_rule_pod
from edge_insights.pods import running_pod
from live.decide import Decider
from live.store import LiveStore
from release_keys import session_signer

pytestmark = pytest.mark.slow  # starts processes


@pytest.fixture(scope="module")
def pod_url(token_plane, tmp_path_factory):
    with running_pod(deploy_rule_pod(tmp_path_factory.mktemp("rule_pod"), session_signer()), token_plane.settings,
                     tokens=token_plane) as url:
        yield url


def _changes(tmp_path, n: int, tag: str) -> LiveStore:
    store = LiveStore(tmp_path / f"{tag}.sqlite")
    for number in range(n):
        append_price_change(store, number, tag=tag)
    return store


def _states(store: LiveStore) -> dict[str, int]:
    return {row["state"]: row["n"] for row in store.query("SELECT state, COUNT(*) AS n FROM changes GROUP BY state")}


def test_with_its_client_credential_every_change_becomes_an_insight(token_plane, pod_url, tmp_path):
    store = _changes(tmp_path, 20, "with-token")
    tokens = token_plane.client("watcher", ["price_spike"])
    decider = Decider(store, {"price_spike": pod_url}, tokens=tokens)
    assert decider.drain(60) == 0
    assert _states(store) == {"done": 20}
    assert store.head() == 20
    assert tokens.fetches == 1  # one token served every batch


def test_without_a_token_the_pods_401_fails_each_change_with_its_reason(pod_url, tmp_path):
    store = _changes(tmp_path, 3, "no-token")
    assert Decider(store, {"price_spike": pod_url}).drain(60) == 0
    assert _states(store) == {"failed": 3}
    reasons = {row["reason"] for row in store.query("SELECT reason FROM changes")}
    assert reasons == {"pod_401: a bearer token is required"}


def test_a_token_of_a_retired_key_is_replaced_and_no_change_is_lost(token_plane, pod_url, tmp_path):
    tokens = token_plane.client("watcher-rotating", ["price_spike"])
    first = _changes(tmp_path, 2, "before-rotation")
    Decider(first, {"price_spike": pod_url}, tokens=tokens).drain(60)
    # keep=1: the key that signed the held token leaves the JWKS; the pod refuses that token from now on.
    rotate_keys(token_plane.settings.tokens_dir, keep=1)
    second = _changes(tmp_path, 5, "after-rotation")
    assert Decider(second, {"price_spike": pod_url}, tokens=tokens).drain(60) == 0
    assert _states(second) == {"done": 5}
    assert tokens.fetches == 2


def test_warm_up_fetches_the_token_before_the_first_change_and_decides_nothing(token_plane, pod_url, tmp_path):
    store = _changes(tmp_path, 3, "warm-up")
    tokens = token_plane.client("watcher-warm", ["price_spike"])
    decider = Decider(store, {"price_spike": pod_url}, tokens=tokens)
    decider.warm_up()
    assert tokens.fetches == 1
    assert _states(store) == {"pending": 3} and store.head() == 0
    assert decider.drain(60) == 0
    assert tokens.fetches == 1  # the first change found the token already held
    assert _states(store) == {"done": 3}


def test_changes_made_while_the_pod_is_down_wait_and_are_decided_when_it_is_back(token_plane, tmp_path):
    store = _changes(tmp_path, 3, "pod-down")
    port = free_port()
    tokens = token_plane.client("watcher-pod-down", ["price_spike"])
    decider = Decider(store, {"price_spike": f"http://127.0.0.1:{port}"}, tokens=tokens, max_tries=2,
                      backoff_s=0.01, max_wait_s=0.05)
    decider.warm_up()  # no pod answers: nothing raised, nothing settled
    assert _states(store) == {"pending": 3}
    assert decider.drain(1.0) == 3  # tried again and again, still waiting: not failed, not quarantined
    rows = store.query("SELECT reason, tries FROM changes")
    assert {(r["reason"], r["tries"]) for r in rows} == {("pod_unreachable: ConnectError", 0)}
    assert store.counts()["quarantined"] == {}
    with running_pod(deploy_rule_pod(tmp_path / "back", session_signer()), token_plane.settings, tokens=token_plane,
                     port=port):
        assert decider.drain(60) == 0
    assert _states(store) == {"done": 3} and store.head() == 3


def test_a_record_the_pod_refuses_is_quarantined_with_the_field_and_message_the_pod_gave(token_plane, pod_url,
                                                                                          tmp_path):
    store = _changes(tmp_path, 2, "refused")
    seq = store.query("SELECT seq, record FROM changes ORDER BY seq")[0]
    record = {**json.loads(seq["record"]), "prices": [1980, 2180]}  # the contract wants 32 prices
    with store.transaction() as con:
        con.execute("UPDATE changes SET record = ? WHERE seq = ?", (json.dumps(record), seq["seq"]))
    tokens = token_plane.client("watcher-refused", ["price_spike"])
    assert Decider(store, {"price_spike": pod_url}, tokens=tokens).drain(60) == 0
    assert _states(store) == {"done": 1, "failed": 1}
    reason = store.query("SELECT reason FROM changes WHERE state = 'failed'")[0]["reason"]
    assert reason == "pod_422: records break the feature contract (prices: list of 2 values, expected exactly 32)"
    assert [r["reason"] for r in store.query("SELECT reason FROM quarantine")] == [reason]
