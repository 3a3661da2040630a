"""The control plane's audit log (commons.control_audit): chained, signed after each event, and
able to say which version was champion and which bundle was deployed at a given time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from commons.chain_retention import recorded_anchors
from commons.chain_verify import verify_folder
from commons.control_audit import ControlAudit, read_events, state_at
from commons.token_keys import jwks_path, rotate_keys, trusted_keys

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


def test_champion_and_deployment_at_time_t(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_INSIGHTS_ACTOR", "dagster")
    audit_dir = tmp_path / "audit"
    rotate_keys(audit_dir)
    audit = ControlAudit(audit_dir)
    audit.record("promote", model="negative_review", version="1", alias="champion", bundle_sha256="a" * 64, now=T0)
    audit.record("deploy", model="negative_review", version="1", alias="champion", bundle_sha256="a" * 64,
                 now=T0 + timedelta(minutes=1))
    audit.record("promotion_refused", model="negative_review", version="2", bundle_sha256="b" * 64,
                 now=T0 + timedelta(hours=1), reason="not promoted: F1 too low")
    audit.record("promote", model="negative_review", version="3", alias="champion", bundle_sha256="c" * 64,
                 now=T0 + timedelta(hours=2))
    audit.record("deploy", model="negative_review", version="3", alias="champion", bundle_sha256="c" * 64,
                 now=T0 + timedelta(hours=2, minutes=1))
    events = read_events(audit.path)
    assert len(events) == 5 and {e["actor"] for e in events} == {"dagster"}

    noon = state_at(events, "negative_review", T0 + timedelta(hours=1, minutes=30))
    assert noon["champion"]["version"] == "1" and noon["deployed"]["champion"]["bundle_sha256"] == "a" * 64
    later = state_at(events, "negative_review", T0 + timedelta(hours=3))
    assert later["champion"]["version"] == "3" and later["deployed"]["champion"]["version"] == "3"
    assert state_at(events, "negative_review", T0 - timedelta(seconds=1)) == {"champion": None, "deployed": {}}
    assert state_at(events, "price_spike", T0 + timedelta(hours=3))["champion"] is None

    report = verify_folder(audit_dir, trusted_keys(jwks_path(audit_dir)))
    # One signed checkpoint after every event.
    assert report.fault is None and (report.lines, report.signed) == (10, 5)


def test_an_unknown_action_is_refused(tmp_path):
    with pytest.raises(ValueError, match="action must be one of"):
        ControlAudit(tmp_path).record("rename")


def test_a_torn_event_left_by_a_crash_is_no_event_and_the_log_reads_on(tmp_path, caplog):
    """A crash mid-write tears an event; the next writer chains past it. read_events (expiry anchors,
    erasure, the security summary) skips it: a torn retention event gives no anchor to start after."""
    elsewhere = ControlAudit(tmp_path / "elsewhere")
    elsewhere.record("retention", now=T0, chains=[{"folder": "decision_log/x", "anchor": "a" * 64, "anchor_seq": 9}])
    retention = elsewhere.path.read_bytes().split(b"\n")[0]
    assert recorded_anchors(read_events(elsewhere.path)) == {"a" * 64: 9}
    audit = ControlAudit(tmp_path / "audit")
    audit.record("promote", model="negative_review", version="1", alias="champion", now=T0)
    with open(audit.path, "ab") as fh:
        fh.write(retention[:-20])  # the crash, after the anchor was written but before the line ended
    ControlAudit(tmp_path / "audit").record("deploy", model="negative_review", version="1", now=T0)
    with open(audit.path, "ab") as fh:
        fh.write(b'{"action":"promo')  # and another at the end
    events = read_events(audit.path)
    assert [e["action"] for e in events] == ["promote", "deploy"] and recorded_anchors(events) == {}
    assert "skipped 1 torn line(s) (line 3)" in caplog.text
    fault = verify_folder(tmp_path / "audit").fault
    assert (fault.line, fault.kind) == (3, "truncated")
