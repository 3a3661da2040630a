"""The client registry keeps every client when several processes register at once."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from commons.client_registry import authenticate, register_client, unregister_client


def _register(tokens_dir, client_id):
    return client_id, register_client(tokens_dir, client_id, ["negative_review"], ["decide"])


def test_concurrent_registrations_from_several_processes_all_authenticate(tmp_path):
    ids = [f"pod-{n}" for n in range(12)]
    with ProcessPoolExecutor(max_workers=4) as pool:
        secrets = dict(pool.map(_register, [tmp_path] * len(ids), ids))
    refused = [client_id for client_id, secret in secrets.items() if authenticate(tmp_path, client_id, secret) is None]
    assert refused == []


def test_re_registering_replaces_the_secret_and_keeps_the_others(tmp_path):
    first = register_client(tmp_path, "watcher", ["price_spike"], ["decide"])
    other = register_client(tmp_path, "pod-price_spike-champion", ["price_spike"], ["decide"])
    second = register_client(tmp_path, "watcher", ["price_spike", "negative_review"], ["decide", "metrics"])
    assert authenticate(tmp_path, "watcher", first) is None
    client = authenticate(tmp_path, "watcher", second)
    assert (client.audiences, client.scopes) == (("price_spike", "negative_review"), ("decide", "metrics"))
    assert authenticate(tmp_path, "pod-price_spike-champion", other).client_id == "pod-price_spike-champion"


def test_an_unregistered_client_is_refused_and_the_others_stay(tmp_path):
    gone = register_client(tmp_path, "pod-negative_review-champion-4101", ["negative_review"], ["decide"])
    kept = register_client(tmp_path, "pod-negative_review-champion-4102", ["negative_review"], ["decide"])
    assert unregister_client(tmp_path, "pod-negative_review-champion-4101") is True
    assert unregister_client(tmp_path, "pod-negative_review-champion-4101") is False
    assert authenticate(tmp_path, "pod-negative_review-champion-4101", gone) is None
    assert authenticate(tmp_path, "pod-negative_review-champion-4102", kept) is not None
