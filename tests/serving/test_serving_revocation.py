"""A pod's revocation watch on its own (real keys, real files, a real HTTP server on loopback): what
it obeys, what it refuses, and that it counts each refused document once."""

from __future__ import annotations

import functools
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import CollectorRegistry

from commons.revocation_list import RevocationList, RevocationListError, default_list_path, publish_next, sign_list
from commons.token_keys import jwks_path, rotate_keys
from serving.revocation import MAX_LIST_BYTES, RevocationWatch, WatchSettings

SHA = "c" * 64


@pytest.fixture()
def state(tmp_path):
    rotate_keys(tmp_path / "tokens")
    return tmp_path


def watch_of(state, source=None) -> tuple[RevocationWatch, CollectorRegistry]:
    registry = CollectorRegistry()
    settings = WatchSettings(source or str(default_list_path(state)), jwks_path(state / "tokens"))
    return RevocationWatch(settings, registry), registry


def refused(registry: CollectorRegistry, reason: str) -> float:
    return registry.get_sample_value("revocation_lists_refused_total", {"reason": reason}) or 0.0


def test_nothing_published_is_no_alarm_then_a_list_is_obeyed(state):
    watch, registry = watch_of(state)
    watch.poll()
    assert watch.accepted is None and registry.get_sample_value("revocation_list_serial") == 0
    key = rotate_keys(state / "tokens")
    publish_next(default_list_path(state), key, jwks_path(state / "tokens"),
                 bundles=[{"sha256": SHA, "reason": "x"}], kids=[{"kid": "k1", "reason": "y"}])
    watch.poll()
    assert (watch.revoked_bundles, watch.revoked_kids) == ({SHA}, {"k1"})
    assert registry.get_sample_value("revocation_list_serial") == 1


def test_a_list_path_that_does_not_exist_is_said_once_naming_a_missing_folder(state, caplog):
    """Normal before the first revocation, but a mistyped --revocation-list must not pass unseen."""
    watch, registry = watch_of(state, str(state / "revocaton" / "list.jwt"))
    with caplog.at_level("WARNING", logger="serving.revocation"):
        watch.poll()
        watch.poll()
    said = [r.getMessage() for r in caplog.records if "no revocation list" in r.getMessage()]
    assert said == [f"no revocation list at {state / 'revocaton' / 'list.jwt'} yet (nor its folder): "
                    "nothing is revoked until one is published there"]
    assert refused(registry, "malformed") == 0


def test_a_rollback_or_a_reused_serial_is_refused_and_the_accepted_list_stands(state):
    watch, registry = watch_of(state)
    key = rotate_keys(state / "tokens")
    now = time.time()
    second = sign_list(RevocationList(2, now, now + 60, ({"sha256": SHA, "reason": "x"},)), key)
    assert watch.offer(second).serial == 2
    assert watch.offer(second).serial == 2  # the same document again: nothing new, nothing refused
    for serial, reason in ((1, "rolled_back"), (2, "serial_reused")):
        with pytest.raises(RevocationListError) as refusal:
            watch.offer(sign_list(RevocationList(serial, now, now + 60), key))
        assert (refusal.value.reason, refusal.value.http_status) == (reason, 409)
        assert refused(registry, reason) == 1
    assert watch.revoked_bundles == {SHA}


def test_a_refused_document_polled_again_is_counted_once(state):
    watch, registry = watch_of(state)
    path = default_list_path(state)
    path.parent.mkdir(parents=True)
    path.write_text("not a list")
    for _ in range(3):
        watch.poll()
    assert refused(registry, "unsigned") == 1 and watch.accepted is None


def test_an_accepted_list_that_ages_past_its_next_update_raises_one_stale_alarm(state):
    watch, registry = watch_of(state)
    key = rotate_keys(state / "tokens")
    publish_next(default_list_path(state), key, jwks_path(state / "tokens"),
                 bundles=[{"sha256": SHA, "reason": "x"}], max_age_s=1)
    watch.poll()
    assert watch.accepted.serial == 1
    time.sleep(1.6)
    watch.poll()
    watch.poll()
    assert refused(registry, "stale") == 1
    assert watch.revoked_bundles == {SHA}  # still obeyed: a revocation is never undone


def test_the_list_can_be_read_over_http(state):
    key = rotate_keys(state / "tokens")
    folder = default_list_path(state).parent
    folder.mkdir(parents=True)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        watch, _ = watch_of(state, f"http://127.0.0.1:{server.server_port}/list.jwt")
        watch.poll()  # 404: nothing published yet
        assert watch.accepted is None
        publish_next(default_list_path(state), key, jwks_path(state / "tokens"), bundles=[{"sha256": SHA,
                                                                                          "reason": "x"}])
        watch.poll()
        assert watch.revoked_bundles == {SHA}
    finally:
        server.shutdown()
        server.server_close()


def test_a_list_larger_than_the_limit_is_not_read_from_a_file_or_over_http(state):
    key = rotate_keys(state / "tokens")
    path = default_list_path(state)
    publish_next(path, key, jwks_path(state / "tokens"), bundles=[{"sha256": SHA, "reason": "x"}])
    watch, registry = watch_of(state)
    watch.poll()
    assert watch.accepted.serial == 1
    oversized = path.parent / "huge.jwt"
    oversized.write_text("a" * (MAX_LIST_BYTES + 1))
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(SimpleHTTPRequestHandler,
                                                                      directory=str(path.parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for source in (str(oversized), f"http://127.0.0.1:{server.server_port}/huge.jwt"):
            big, big_registry = watch_of(state, source)
            big.poll()
            big.poll()
            assert big.accepted is None
            assert refused(big_registry, "too_large") == 1  # alarmed once, not at every poll
    finally:
        server.shutdown()
        server.server_close()
    watch.poll()  # the pod that obeys a list goes on obeying it
    assert watch.revoked_bundles == {SHA} and refused(registry, "too_large") == 0
