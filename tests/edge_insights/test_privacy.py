"""Retention, erasure and the privacy report on a real state folder: warehouse rows, staging and
inbox files and a pod-style chained decision log, aged against a reference "now"; the result
checked by counting what is left and by ``edge-insights audit verify`` (exit 0 after retention and
erasure, 1 when a day file is deleted without the record retention writes)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from commons.control_audit import ControlAudit, read_events
from commons.erasure import erase, traces
from commons.hash_chain import canonical
from commons.privacy_policy import PolicyError, StorePolicy, load_policy
from commons.privacy_report import holdings
from commons.retention import StoreFolders, apply_retention, overdue
from commons.revocation_list import LIST_FOLDER
from commons.settings import Settings
from commons.token_keys import current_key, rotate_keys
from commons.warehouse import Warehouse, flatten
from edge_insights.cli import app
from live.store import LiveStore
from serving.decision_log import DecisionLog
from training.divergence import read_decisions
from unwritable import run_without_write

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
GONE, KEPT = "p-gone", "p-kept"


def _row(product: str, intake: str, at: datetime, price: str | None = "10.5", text: str | None = None) -> dict:
    record = {"source": "shop", "url": f"https://shop.example/{product}", "product_id": product,
              "title": f"Item {product}", "price": price, "currency": "EUR", "crawled_at": at.isoformat(),
              "content_digest": f"{product}-{intake}-{at:%Y%m%d}", "review_text": [text] if text else None,
              "provenance": {"crawl_id": "c1"}}
    return flatten(record, "run-1", intake, f"{at:%Y-%m-%d}")


def _decision(product: str, at: datetime) -> dict:
    return {"ts": at.isoformat(timespec="milliseconds"), "decision": "negative_review", "label": 1, "score": 0.9,
            "route": "edge", "product_id": product, "signal_digest": f"d-{product}-{at:%j}"}


def _live_rows(path: Path) -> None:
    """The live loop's store: per product one page, change, insight, delivery, alert, quarantine and
    observation row seen 500 days ago and one seen 2 days ago (as the watcher writes them: records
    as JSON), its writer closed."""
    store = LiveStore(path)
    with store.transaction() as con:
        for product in (GONE, KEPT):
            for days in (500, 2):
                at, url = (NOW - timedelta(days=days)).timestamp(), f"https://shop.example/{product}/{days}"
                record = json.dumps({"product_id": product, "source": "shop", "url": url})
                con.execute("INSERT INTO products(url, product_id, record, last_visit) VALUES (?,?,?,?)",
                            (url, product, record, at))
                con.execute("INSERT INTO changes(change_id, url, product_id, decision, kind, record, signal, "
                            "received_at, changed_at, state) VALUES (?,?,?,?,?,?,?,?,?, 'done')",
                            (f"c-{product}-{days}", url, product, "price_spike", "price", "{}", record, at, "t"))
                con.execute("INSERT INTO insights(insight_id, change_id, decision, label, score, route, alert, "
                            "product_id, url, kind, changed_at, decided_at, published_at, signal_digest, "
                            "received_at, published) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                            (f"i-{product}-{days}", f"c-{product}-{days}", "price_spike", "spike", 0.9, "edge", 1,
                             product, url, "price", "t", "t", "t", "d", at, at))
                con.execute("INSERT INTO alerts(product_key, decision, alerted_at) VALUES (?,?,?)",
                            (url, "price_spike", at))
                con.execute("INSERT INTO quarantine(stage, url, reason, row, at) VALUES (?,?,?,?,?)",
                            ("push", None, "bad", record, at))
                con.execute("INSERT INTO observations(url, signal, received_at) VALUES (?,?,?)", (url, record, at))
                # A delivery names only its insight: erasure must follow the insight to it.
                con.execute("INSERT INTO deliveries(subscriber, insight_id, state, next_try) VALUES (?,?,?,?)",
                            ("https://hooks.example/in", f"i-{product}-{days}", "pending", at))
    store.close()  # the file alone, as a stopped watcher leaves it


def _age(path: Path, at: datetime) -> None:
    os.utime(path, (at.timestamp(), at.timestamp()))


@pytest.fixture
def state(tmp_path, monkeypatch) -> Settings:
    """A state folder with, for both products, rows and files inside and outside their policy."""
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path / "state"))
    settings = Settings(state_dir=tmp_path / "state", data_dir=tmp_path / "data")
    key = rotate_keys(settings.audit_dir)
    wh = Warehouse(settings.warehouse_path)
    rows = [_row(p, "prices", NOW - timedelta(days=d)) for p in (GONE, KEPT) for d in (1200, 1190, 10)]
    rows += [_row(p, "reviews", NOW - timedelta(days=d), price=None, text=f"fine {p}") for p in (GONE, KEPT)
             for d in (2000, 5)]
    wh.append_rows_to_history("run-1", rows)
    wh.write_signals("scrubbed_signals", "k-old", [r for r in rows if r["intake"] == "prices"])
    wh.write_quarantine("run-1", "validate", [
        {"product_id": p, "source": "shop", "reason": "bad", "record_json": json.dumps({"product_id": p}),
         "quarantined_at": (NOW - timedelta(days=d)).isoformat()} for p in (GONE, KEPT) for d in (200, 3)])
    wh.write_features("negative_review", "run-1", [{"split": "train", "text": "fine", "label": 0, "product_id": p,
                                                    "source": "shop"} for p in (GONE, KEPT)])
    staged = settings.staging_dir / "raw_reviews" / "k-old" / "items.jsonl"
    staged.parent.mkdir(parents=True)
    staged.write_text("".join(json.dumps({"product_id": p, "author": "Jane"}) + "\n" for p in (GONE, KEPT)))
    fresh = settings.inbox_dir / "batch.jsonl"
    fresh.parent.mkdir(parents=True)
    fresh.write_text("".join(json.dumps({"product_id": p}) + "\n" for p in (GONE, KEPT)))
    _age(staged, NOW - timedelta(days=3))
    _age(fresh, NOW - timedelta(hours=2))
    # A Scrapy log names a page it could not read; an old crawl's log is past policy.
    crawl_log = settings.crawls_dir / "replay-old" / "crawl.log"
    crawl_log.parent.mkdir(parents=True)
    crawl_log.write_text("2026-05-01 10:00:00 [scrapy.core.engine] INFO: Spider opened\n"
                         f"2026-05-01 10:00:01 [edge_insights] WARNING: no price on https://shop.example/{GONE}-2\n"
                         f"2026-05-01 10:00:02 [edge_insights] WARNING: no price on https://shop.example/{GONE}\n")
    _age(crawl_log, NOW - timedelta(days=200))
    run_log = settings.logs_dir / "pod.log"
    run_log.parent.mkdir(parents=True)
    run_log.write_text(f"INFO: POST /v1/decisions/price_spike for https://shop.example/{KEPT}\n")
    _live_rows(settings.live_store_path)
    log = DecisionLog(settings.decision_log_dir, key, checkpoint_every=3)
    for days in (500, 450, 20, 1):
        log.append([_decision(p, NOW - timedelta(days=days)) for p in (GONE, KEPT)])
    log.close()
    return settings


def _verify(settings: Settings):
    return CliRunner().invoke(app, ["audit", "verify", str(settings.state_dir)])


def test_the_policy_names_every_store_with_a_reason():
    policy = load_policy()
    assert {"scrubbed_signals", "validated_signals", "signal_history", "quarantine", "features", "price_monthly",
            "staging", "inbox", "crawl_logs", "run_logs", "decision_log", "live_products", "live_changes",
            "live_insights", "live_deliveries", "live_alerts", "live_quarantine", "live_observations"
            } <= set(policy.stores)
    assert all(s.purpose and s.why and s.regions for s in policy.stores.values())
    # The demo trains on price histories from 2024-02-17: as of this session they are inside policy.
    assert policy.store("signal_history").cutoff(NOW) < datetime(2024, 2, 17, tzinfo=timezone.utc)
    assert policy.fields["review_text"] == ("eu",)


def test_a_policy_without_a_reason_is_refused(tmp_path):
    bad = tmp_path / "policy.toml"
    bad.write_text('[stores.x]\nkind = "table"\ntime = "crawled_at"\nretention_days = 3\nregions = ["eu"]\n')
    with pytest.raises(PolicyError, match="purpose, why and regions"):
        load_policy(bad)


def test_retention_removes_what_is_past_policy_and_audit_verify_still_passes(state):
    policy, wh, folders = load_policy(), Warehouse(state.warehouse_path), StoreFolders.of(state)
    before = overdue(policy, wh, folders, NOW)
    assert before["signal_history"] == 6 and before["decision_log"] == 2 and before["staging"] == 1
    assert before["crawl_logs"] == 1 and before["run_logs"] == 0

    result = apply_retention(policy, wh, folders, NOW, ControlAudit(state.audit_dir))

    assert result["signal_history"] == {"removed": 6, "aggregated": 4}
    assert result["quarantine"]["removed"] == 2 and result["staging"]["removed"] == 1
    assert result["inbox"]["removed"] == 0 and result["decision_log"] == {"removed": 4, "files": 2}
    assert result["crawl_logs"]["removed"] == 1 and not (state.crawls_dir / "replay-old" / "crawl.log").exists()
    assert result["run_logs"]["removed"] == 0 and (state.logs_dir / "pod.log").exists()
    assert {name: result[name]["removed"] for name in result if name.startswith("live_")} == {
        "live_products": 2, "live_changes": 2, "live_insights": 2, "live_deliveries": 2, "live_alerts": 2,
        "live_quarantine": 2, "live_observations": 2}
    assert LiveStore(state.live_store_path).query("SELECT insight_id FROM insights ORDER BY 1") == [
        {"insight_id": f"i-{GONE}-2"}, {"insight_id": f"i-{KEPT}-2"}]
    assert not any(overdue(policy, wh, folders, NOW).values())
    monthly = wh.frame("SELECT product_id, sum(observations) AS n FROM price_monthly GROUP BY 1 ORDER BY 1")
    assert monthly.to_dicts() == [{"product_id": GONE, "n": 2}, {"product_id": KEPT, "n": 2}]
    assert len(read_decisions(state.decision_log_dir, "negative_review")) == 4
    event = read_events(state.audit_dir / "control.jsonl")[-1]
    assert event["action"] == "retention" and event["details"]["chains"][0]["files"] == [
        f"decisions-{NOW - timedelta(days=500):%Y%m%d}.jsonl", f"decisions-{NOW - timedelta(days=450):%Y%m%d}.jsonl"]
    done = _verify(state)
    assert done.exit_code == 0, done.output
    assert "starts after expired lines" in done.output


@pytest.mark.parametrize(("extra", "reason"), [
    ({"name": "uploads", "kind": "files", "time": "mtime"}, "uploads (files)"),  # no such folder
    ({"name": "signal_hist", "kind": "table", "time": "crawled_at"}, "signal_hist (table)"),  # misspelt
    ({"name": "insights", "kind": "table", "time": "publishd_at"}, "insights (table without column 'publishd_at')"),
    ({"name": "live_x", "kind": "sqlite", "time": "at", "database": "lve", "table": "quarantine"},
     "live_x (sqlite database 'lve')"),
    ({"name": "live_x", "kind": "sqlite", "time": "last_vist", "database": "live", "table": "products"},
     "live_x (sqlite table 'products' without column 'last_vist')"),
    ({"name": "odd", "kind": "bogus", "time": "mtime"}, "odd (bogus)"),
])
def test_a_store_the_state_folder_has_no_place_for_is_refused_before_anything_goes(state, extra, reason):
    policy, wh, folders = load_policy(), Warehouse(state.warehouse_path), StoreFolders.of(state)
    fields = {"retention_days": 1, "action": "delete", "purpose": "p", "why": "w", "regions": ("eu",),
              "aggregate_into": None, "database": None, "table": None, **extra}
    bad = dataclasses.replace(policy, stores={**policy.stores, extra["name"]: StorePolicy(**fields)})
    due = overdue(policy, wh, folders, NOW)
    for use in (lambda: apply_retention(bad, wh, folders, NOW, ControlAudit(state.audit_dir)),
                lambda: overdue(bad, wh, folders, NOW), lambda: holdings(bad, wh, folders),
                lambda: erase(bad, wh, folders, "product_id", GONE, None, None),
                lambda: traces(bad, wh, folders, GONE)):
        with pytest.raises(PolicyError, match=re.escape(f"no place for: {reason}")):
            use()
    assert overdue(policy, wh, folders, NOW) == due and due["staging"] == 1  # nothing removed


def test_the_retention_command_applies_the_policy_and_prints_what_went(state):
    policy, wh, folders = load_policy(), Warehouse(state.warehouse_path), StoreFolders.of(state)
    due = overdue(policy, wh, folders, NOW)
    done = CliRunner().invoke(app, ["privacy", "retention", "--as-of", NOW.isoformat()])
    assert done.exit_code == 0, done.output
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in done.output.splitlines() if line.count("│") == 4}
    assert rows["signal_history"] == str(due["signal_history"]) == "6" and rows["crawl_logs"] == "1"
    assert not any(overdue(policy, wh, folders, NOW).values())
    assert read_events(state.audit_dir / "control.jsonl")[-1]["action"] == "retention"
    assert _verify(state).exit_code == 0
    bad = CliRunner().invoke(app, ["privacy", "retention", "--as-of", "next tuesday"])
    assert bad.exit_code == 2 and "not an ISO 8601 time" in bad.output


def test_the_retention_command_refuses_an_as_of_out_of_range_or_in_the_future(state):
    policy, wh, folders = load_policy(), Warehouse(state.warehouse_path), StoreFolders.of(state)
    later = datetime.now(timezone.utc) + timedelta(days=3650)  # a typo's year: every time-bound row is past it
    due = overdue(policy, wh, folders, later)
    # decision_log: its 4 day files (8 lines, which the command counts as removed)
    assert (due["signal_history"], due["decision_log"], due["live_products"]) == (10, 4, 4)
    control = state.audit_dir / "control.jsonl"
    audit_before = control.read_bytes() if control.exists() else None
    for as_of, message in [
            ("0001-01-01T00:00:00Z", "error: --as-of 0001-01-01T00:00:00+00:00 is too early: the cutoff of store '"),
            ("9999-12-31T23:00:00-05:00", "error: --as-of 9999-12-31T23:00:00-05:00 has no UTC time"),
            (later.isoformat(), f"error: --as-of {later.isoformat(timespec='seconds')} is later than now (")]:
        refused = CliRunner().invoke(app, ["privacy", "retention", "--as-of", as_of])
        assert refused.exit_code == 2, refused.output
        assert len(refused.stderr.splitlines()) == 1 and refused.stderr.startswith(message), refused.stderr
    assert "falls before year 1" in CliRunner().invoke(app, ["privacy", "retention", "--as-of", "0001-01-01"]).stderr
    # Refused before anything was touched: the same rows are due, and no retention was recorded.
    assert overdue(policy, wh, folders, later) == due
    assert (control.read_bytes() if control.exists() else None) == audit_before

    forced = CliRunner().invoke(app, ["privacy", "retention", "--as-of", later.isoformat(), "--allow-future"])
    assert forced.exit_code == 0, forced.output
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in forced.output.splitlines() if line.count("│") == 4}
    assert (rows["signal_history"], rows["decision_log"], rows["live_products"]) == ("10", "8", "4")
    assert not any(overdue(policy, wh, folders, later).values())


def test_a_retention_run_that_fails_part_way_records_the_chains_it_already_cut(state):
    """negative_review's old days go, then urgent_inventory's oldest day file cannot be read (here a
    folder where the file was: a disk fault): the run fails, but the anchor of the chain it cut is
    recorded, so that chain still verifies (unrecorded, its deleted days read as tampering)."""
    log = DecisionLog(state.decision_log_dir, current_key(state.audit_dir), checkpoint_every=3)
    for days in (500, 20):
        log.append([{**_decision(p, NOW - timedelta(days=days)), "decision": "urgent_inventory"} for p in (GONE, KEPT)])
    log.close()
    oldest = sorted((state.decision_log_dir / "urgent_inventory").glob("*.jsonl"))[0]
    oldest.unlink()
    oldest.mkdir()

    with pytest.raises(IsADirectoryError):
        apply_retention(load_policy(), Warehouse(state.warehouse_path), StoreFolders.of(state), NOW,
                        ControlAudit(state.audit_dir))

    event = read_events(state.audit_dir / "control.jsonl")[-1]
    assert event["action"] == "retention" and event["details"]["incomplete"].startswith("IsADirectoryError: ")
    assert [c["folder"] for c in event["details"]["chains"]] == [str(state.decision_log_dir / "negative_review")]
    assert event["details"]["removed"]["signal_history"] == 6
    done = CliRunner().invoke(app, ["audit", "verify", str(state.decision_log_dir / "negative_review")])
    assert done.exit_code == 0, done.output
    assert "starts after expired lines" in done.output


def test_a_day_file_deleted_without_the_retention_record_is_caught(state):
    folder = state.decision_log_dir / "negative_review"
    sorted(folder.glob("*.jsonl"))[0].unlink()
    done = _verify(state)
    assert done.exit_code == 1 and "TAMPERED" in done.output and "deleted" in done.output


def test_erasure_leaves_no_trace_of_the_product_in_any_store(state):
    policy, wh, folders = load_policy(), Warehouse(state.warehouse_path), StoreFolders.of(state)
    _age(state.crawls_dir / "replay-old" / "crawl.log", NOW)  # this crawl's log is inside its policy
    apply_retention(policy, wh, folders, NOW, ControlAudit(state.audit_dir))  # price_monthly holds it too
    assert any(traces(policy, wh, folders, GONE).values()) and traces(policy, wh, folders, GONE)["crawl_logs"]

    done = CliRunner().invoke(app, ["erase", "--product", GONE])

    assert done.exit_code == 0, done.output
    left = traces(policy, wh, folders, GONE)
    assert not any(left.values()), left
    # Not even in the warehouse file's freed blocks: it is rewritten after the deletes.
    assert GONE.encode() not in state.warehouse_path.read_bytes()
    assert not [p.name for p in state.live_store_path.parent.iterdir() if GONE.encode() in p.read_bytes()]
    assert all(traces(policy, wh, folders, KEPT)[s] for s in ("signal_history", "price_monthly", "features",
                                                              "inbox", "decision_log", "live_products",
                                                              "live_changes", "live_insights", "live_quarantine",
                                                              "live_observations"))
    assert [r["product_id"] for r in read_decisions(state.decision_log_dir, "negative_review")] == [KEPT, KEPT]
    # The crawl log keeps its other lines; the line that named the product's page is gone
    # (another product whose id only starts with this one's keeps its line).
    assert (state.crawls_dir / "replay-old" / "crawl.log").read_text().endswith(f"/{GONE}-2\n")
    event = read_events(state.audit_dir / "control.jsonl")[-1]
    assert event["action"] == "erasure" and event["details"]["value"] == GONE
    # The example snapshot held the subject for negative_review: that model is to be retrained,
    # and the command says so.
    assert event["details"]["retrain"] == ["negative_review"]
    assert "models that learned from it: negative_review; the Dagster erasure_sensor retrains each" in " ".join(
        done.output.split())
    assert event["details"]["removed"]["decision_log"] == 2 and event["details"]["removed"]["signal_history"] == 2
    verified = _verify(state)
    assert verified.exit_code == 0, verified.output


def test_an_erasure_rebuilds_lines_with_and_without_a_route_reason_as_they_were(state):
    """The fixture's lines predate ``route_reason``; a pod then chains on with it."""
    log = DecisionLog(state.decision_log_dir, current_key(state.audit_dir), checkpoint_every=3)
    log.append([{**_decision(p, NOW), "route_reason": reason} for p, reason in ((GONE, "abstain"),
                                                                                 (KEPT, "out_of_range"))])
    log.close()
    done = CliRunner().invoke(app, ["erase", "--product", GONE])
    assert done.exit_code == 0, done.output
    rows = read_decisions(state.decision_log_dir, "negative_review")
    assert [(r["product_id"], r.get("route_reason")) for r in rows] == [(KEPT, None)] * 4 + [(KEPT, "out_of_range")]
    verified = _verify(state)
    assert verified.exit_code == 0, verified.output


def test_an_erasure_stopped_midway_is_recorded_and_finished_by_running_it_again(state):
    live = state.live_store_path
    kept = {p: p.read_bytes() for p in live.parent.glob(f"{live.name}*")}  # with its -wal and -shm
    for path in kept:
        path.unlink()
    live.mkdir()  # the live store cannot be opened: the erasure stops there
    policy, wh, folders = load_policy(), Warehouse(state.warehouse_path), StoreFolders.of(state)

    stopped = CliRunner().invoke(app, ["erase", "--product", GONE])

    assert stopped.exit_code == 1 and "run the same erase again to finish it" in stopped.output, stopped.output
    event = read_events(state.audit_dir / "control.jsonl")[-1]
    assert event["action"] == "erasure_incomplete" and event["details"]["removed"]["decision_log"] == 4
    assert event["details"]["error"].startswith("OperationalError: unable to open database file")
    # The rows a second run reads what to retrain from are still there: the derived ones went first.
    assert wh.frame("SELECT count(*) AS n FROM features WHERE product_id = ?", [GONE])["n"][0] == 1
    assert [r["product_id"] for r in read_decisions(state.decision_log_dir, "negative_review")] == [KEPT] * 4
    live.rmdir()
    for path, data in kept.items():
        path.write_bytes(data)

    finished = CliRunner().invoke(app, ["erase", "--product", GONE])

    assert finished.exit_code == 0, finished.output
    event = read_events(state.audit_dir / "control.jsonl")[-1]
    assert event["action"] == "erasure" and event["details"]["retrain"] == ["negative_review"]
    assert not any(traces(policy, wh, folders, GONE).values())


def test_an_erasure_refuses_to_rebuild_a_decision_log_that_does_not_verify(state):
    folder = state.decision_log_dir / "negative_review"
    first = sorted(folder.glob("*.jsonl"))[0]
    lines = first.read_bytes().splitlines(keepends=True)
    # The kept product's line after the erased one's first: a rebuild would re-hash it and sign it.
    forged = json.loads(lines[1])
    assert (forged["product_id"], forged["label"]) == (KEPT, 1)
    lines[1] = canonical({**forged, "label": 0}) + b"\n"
    first.write_bytes(b"".join(lines))
    fault = f"{first}:2: edited: its content does not match its hash"
    assert f"TAMPERED {fault}" in _verify(state).output
    held = {p.name: p.read_bytes() for p in folder.iterdir()}

    _assert_erasure_refused(state, f"the decision log {folder} does not verify (TAMPERED {fault}); rebuilding it "
                            "would sign over that line, so nothing was erased; restore the log",
                            f"chain does not verify: {fault}")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == held
    verified = _verify(state)
    assert verified.exit_code == 1 and f"TAMPERED {fault}" in verified.output


def _assert_erasure_refused(state: Settings, why: str, finding: str) -> None:
    """Erasing GONE exits 1 with one line saying ``why``, records ``finding`` and removes nothing."""
    done = CliRunner().invoke(app, ["erase", "--product", GONE])
    assert done.exit_code == 1 and isinstance(done.exception, SystemExit)
    assert done.output == f"error: erasure of product_id = {GONE} refused: {why}, then run the same erase again\n"
    event = read_events(state.audit_dir / "control.jsonl")[-1]
    assert event["action"] == "erasure_incomplete" and event["details"]["removed"] == {}
    assert event["details"]["error"] == finding
    # Nothing went elsewhere either: a --source erasure run again finds its products in the warehouse.
    policy, wh, folders = load_policy(), Warehouse(state.warehouse_path), StoreFolders.of(state)
    assert traces(policy, wh, folders, GONE)["signal_history"] == 5


def test_an_erasure_refuses_a_decision_log_it_cannot_verify_for_an_unreadable_audit_jwks(state):
    jwks = state.audit_dir / "jwks.json"
    jwks.write_text("garbage\n")
    unreadable = f"{jwks} is not a readable JWK Set: Expecting value: line 1 column 1 (char 0)"
    _assert_erasure_refused(state, f"the decision logs holding it cannot be verified ({unreadable}); nothing was "
                            "erased; restore the audit JWKS", f"chain cannot be verified: {unreadable}")
    # No decision log holds this source: nothing there to verify, so the JWKS is not needed.
    assert CliRunner().invoke(app, ["erase", "--source", "elsewhere"]).exit_code == 0


def test_a_missing_warehouse_is_refused_where_other_stores_hold_data(state, tmp_path, monkeypatch):
    state.warehouse_path.unlink()
    for command in (["erase", "--product", GONE], ["privacy", "report"]):
        done = CliRunner().invoke(app, command)
        assert done.exit_code == 2, done.output
        assert done.output == (f"error: no warehouse at {state.warehouse_path}, yet this state folder holds data in "
                               "staging, inbox, crawl_logs, run_logs, live, decision_log: the warehouse was removed or "
                               "moved; restore it (nothing was read or changed)\n")
    assert not state.warehouse_path.exists()
    assert not [e for e in read_events(state.audit_dir / "control.jsonl") if e["action"].startswith("erasure")]
    # A state folder nothing was stored in yet has no warehouse either, and that is no error.
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path / "fresh"))
    (tmp_path / "fresh").mkdir()
    assert CliRunner().invoke(app, ["privacy", "report", "--json"]).exit_code == 0


def test_a_warehouse_that_cannot_be_read_is_one_error_line_and_the_erasure_is_recorded(state):
    state.warehouse_path.write_text("garbage\n")
    erased = CliRunner().invoke(app, ["erase", "--product", GONE])
    reported = CliRunner().invoke(app, ["privacy", "report"])
    retained = CliRunner().invoke(app, ["privacy", "retention", "--as-of", NOW.isoformat()])
    unreadable = (f'IOException: IO Error: The file "{state.warehouse_path}" exists, but it is not a valid DuckDB '
                  "database file!")
    assert (erased.exit_code, reported.exit_code, retained.exit_code) == (1, 1, 1)
    assert all(isinstance(done.exception, SystemExit) for done in (erased, reported, retained))
    assert erased.output == (f"error: erasure of product_id = {GONE} stopped midway ({unreadable}); what was removed "
                             "is recorded; run the same erase again to finish it\n")
    assert reported.output == f"error: a store cannot be read: {unreadable}\n"
    assert retained.output == f"error: a store cannot be read or written: {unreadable}\n"
    # Retention failed at the warehouse, its first stores: nothing went, so no run is recorded.
    assert state.staging_dir.joinpath("raw_reviews", "k-old", "items.jsonl").exists()
    event = read_events(state.audit_dir / "control.jsonl")[-1]
    assert event["action"] == "erasure_incomplete" and event["details"]["error"] == unreadable


def test_the_erasure_sensor_requests_a_retrain_of_each_model_that_learned_from_the_subject(state, data_dir):
    import dagster as dg

    from orchestration.definitions import build_definitions
    from orchestration.erasure_sensor import erasure_sensor

    training = build_definitions(dataclasses.replace(state, data_dir=data_dir)).resources["training"]

    def evaluate(instance, cursor=None):
        with dg.build_sensor_context(instance=instance, resources={"training": training}, cursor=cursor) as context:
            return erasure_sensor(context)

    with dg.instance_for_test() as instance:
        idle = evaluate(instance)
        assert idle.run_requests == [] and idle.cursor is None
        assert CliRunner().invoke(app, ["erase", "--product", GONE]).exit_code == 0
        assert CliRunner().invoke(app, ["erase", "--product", "p-never-seen"]).exit_code == 0
        asked = evaluate(instance)
        again = evaluate(instance, asked.cursor)
    erasures = [e for e in read_events(state.audit_dir / "control.jsonl") if e["action"] == "erasure"]
    (request,) = asked.run_requests  # the unknown product trained nothing: no run for it
    assert request.tags == {"trigger": "erasure", "decision": "negative_review", "erasure_at": erasures[0]["ts"]}
    assert {tuple(k.path) for k in request.asset_selection} == {
        ("negative_review", stage) for stage in ("signal_features", "teacher_model", "student_model", "edge_bundle",
                                                  "central_bundle", "registered_model", "deployed_bundle")}
    assert asked.cursor == erasures[1]["ts"]
    # Looked at again from its cursor, an erasure already acted on asks for no other run.
    assert {r.run_key for r in again.run_requests} <= {request.run_key}


def test_erasure_of_a_whole_log_and_by_source(state):
    policy, wh, folders = load_policy(), Warehouse(state.warehouse_path), StoreFolders.of(state)
    wh.append_insights([{"insight_id": f"w-{p}", "decision": "price_spike", "product_id": p, "url": f"u/{p}",
                         "changed_at": NOW.isoformat()} for p in (GONE, KEPT, "p-other-source")])
    counts = erase(policy, wh, folders, "source", "shop", None, None)
    assert counts["signal_history"] == 10 and counts["features"] == 2
    assert wh.frame("SELECT count(*) AS n FROM signal_history")["n"][0] == 0
    # Insights and decision-log lines carry no source: they go with the products the source reported.
    assert (counts["insights"], counts["decision_log"]) == (2, 8)
    assert wh.frame("SELECT product_id FROM insights")["product_id"].to_list() == ["p-other-source"]
    assert read_decisions(state.decision_log_dir, "negative_review") == []
    with pytest.raises(ValueError, match="erase by one of"):
        erase(policy, wh, folders, "author", "Jane", None, None)
    assert CliRunner().invoke(app, ["erase"]).exit_code == 2


def test_an_erasure_value_that_is_not_utf8_is_refused_before_any_store_is_touched(state):
    # A non-UTF-8 argument (b"a\xffb" under a UTF-8 locale) reaches Python as a lone surrogate.
    done = CliRunner().invoke(app, ["erase", "--product", "a\udcffb"])
    assert done.exit_code == 2, done.output
    assert "Invalid value for '--product': must be valid UTF-8" in done.output
    assert not [e for e in read_events(state.audit_dir / "control.jsonl") if e["action"] == "erasure"]


def test_the_privacy_report_says_what_is_held_and_until_when(state):
    rows = {r.store: r for r in holdings(load_policy(), Warehouse(state.warehouse_path), StoreFolders.of(state))}
    history = rows["signal_history"]
    assert history.count == 10 and history.oldest.startswith(f"{NOW - timedelta(days=2000):%Y-%m-%d}")
    assert history.until.startswith(f"{NOW - timedelta(days=2000) + timedelta(days=1095):%Y-%m-%d}")
    assert rows["decision_log"].count == 4 and rows["decision_log"].regions == "eu, us"
    live = rows["live_changes"]
    assert live.count == 4 and live.oldest.startswith(f"{NOW - timedelta(days=500):%Y-%m-%d}")
    assert live.where == f"{state.live_store_path}:changes" and rows["live_changes"].regions == "eu"
    done = CliRunner().invoke(app, ["privacy", "report", "--json"])
    assert done.exit_code == 0, done.output
    assert {json.loads(line).get("store") for line in done.output.splitlines()} >= {"signal_history", "decision_log"}


def test_the_privacy_report_reads_a_live_store_whose_folder_it_cannot_write(state):
    # Another user's state folder, as a privacy officer reads it: the report must answer, with the figures the
    # watcher's own user gets.
    live = state.live_store_path.parent
    done = run_without_write(live, [sys.executable, "-m", "edge_insights", "privacy", "report", "--json"], cwd=REPO)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert {r["store"]: (r["count"], r["oldest"]) for r in rows if r.get("kind") == "sqlite"} == {
        name: (4, f"{NOW - timedelta(days=500):%Y-%m-%d %H:%M} UTC") for name in (
            "live_products", "live_changes", "live_observations", "live_insights", "live_deliveries", "live_alerts",
            "live_quarantine")}
    assert done.stdout == CliRunner().invoke(app, ["privacy", "report", "--json"]).stdout


def test_retention_in_a_live_store_whose_folder_it_cannot_write_fails_naming_the_folder(state):
    live = state.live_store_path.parent
    done = run_without_write(live, [sys.executable, "-m", "edge_insights", "privacy", "retention", "--as-of",
                                    NOW.isoformat()], cwd=REPO)
    assert done.returncode == 1
    assert done.stderr == (f"error: a store cannot be read or written: PermissionError: [Errno 13] cannot change "
                           f"live.sqlite: its folder {live} is read-only to this process (SQLite writes its log "
                           "beside the file); run as a user who may write that folder\n")
    assert LiveStore(state.live_store_path).query("SELECT count(*) AS n FROM products") == [{"n": 4}]


def test_the_privacy_report_names_what_holds_no_subject_key_and_fails_on_an_unaccounted_entry(state):
    (state.state_dir / LIST_FOLDER).mkdir()  # what the first `revoke` writes
    (state.state_dir / LIST_FOLDER / "list.jwt").write_text("eyJ.e30.sig")
    (state.state_dir / "benchmarks").mkdir()  # what `make bench` writes
    (state.state_dir / "benchmarks" / "live_staleness.json").write_text("{}")
    done = CliRunner().invoke(app, ["privacy", "report", "--json"])
    assert done.exit_code == 0, done.output
    entries = {line["entry"]: line for line in map(json.loads, done.output.splitlines()) if "entry" in line}
    assert {"dagster", "mlflow", "models", "audit", LIST_FOLDER, "benchmarks"} <= set(entries)
    assert all(e.get("unkeyed") for e in entries.values())
    (state.state_dir / "exports").mkdir()
    (state.state_dir / "notes.csv").write_text("product_id\np-gone\n")
    with Warehouse(state.warehouse_path).connect() as con:
        con.execute("CREATE TABLE customers (name VARCHAR)")
    done = CliRunner().invoke(app, ["privacy", "report"])
    assert done.exit_code == 1
    assert "3 entries of the state folder in no store of the privacy policy and not named unkeyed: exports, " \
           "notes.csv, warehouse:customers" in " ".join(done.output.split())


def test_the_privacy_report_refuses_a_state_folder_that_does_not_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path / "typo"))
    for command in (["privacy", "report"], ["erase", "--product", GONE]):
        done = CliRunner().invoke(app, command)
        assert done.exit_code == 2 and "no state folder at" in done.output, done.output
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("value", [f"{GONE} ", "_", '"'])
def test_an_erasure_value_no_key_can_have_is_refused(state, value):
    done = CliRunner().invoke(app, ["erase", "--product", value])
    assert done.exit_code == 2 and "must hold a letter or digit" in done.output, done.output


def test_an_erasure_of_a_subject_never_held_says_so(state):
    done = CliRunner().invoke(app, ["erase", "--product", "P-GONE"])
    assert done.exit_code == 0 and "nothing held for product_id = P-GONE" in " ".join(done.output.split())
    assert Warehouse(state.warehouse_path).frame(
        "SELECT count(*) AS n FROM signal_history WHERE product_id = ?", [GONE])["n"][0] == 5


def test_a_value_that_names_no_subject_leaves_the_logs_that_use_it_as_a_word(state):
    # "INFO" is in every log line's level: no keyed store holds it, so no log loses a line.
    crawl_log, run_log = state.crawls_dir / "replay-old" / "crawl.log", state.logs_dir / "pod.log"
    before = crawl_log.read_text(), run_log.read_text()

    done = CliRunner().invoke(app, ["erase", "--source", "INFO"])

    assert done.exit_code == 0 and "nothing held for source = INFO" in " ".join(done.output.split()), done.output
    assert (crawl_log.read_text(), run_log.read_text()) == before


def test_a_pushed_batch_is_erased_record_by_record_whatever_its_text_holds(state):
    """A JSON string may hold U+2028 or U+0085 raw, and a CSV field a quoted line break: each record
    goes whole (once only the text before the break went, and the rest stayed in clear)."""
    inbox = state.inbox_dir / "processed" / "b1"
    inbox.mkdir(parents=True)
    lines = inbox / "wh-1.jsonl"
    lines.write_text(json.dumps({"product_id": "LS3", "review_text": ["Great.\u2028Mail mary.private@example.com"]},
                                ensure_ascii=False) + "\n" + json.dumps({"product_id": KEPT}) + "\n", encoding="utf-8")
    table = inbox / "wh-2.csv"
    table.write_text('source,url,product_id,title\np,https://s.example/zz9,ZZ9,"Gift for\nJane Secretperson"\n'
                     "p,https://s.example/yy8,YY8,plain\n", encoding="utf-8")
    policy, wh, folders = load_policy(), Warehouse(state.warehouse_path), StoreFolders.of(state)

    assert erase(policy, wh, folders, "product_id", "LS3", None, None)["inbox"] == 1
    assert erase(policy, wh, folders, "product_id", "ZZ9", None, None)["inbox"] == 1

    assert lines.read_text(encoding="utf-8") == json.dumps({"product_id": KEPT}) + "\n"
    assert table.read_text(encoding="utf-8") == "source,url,product_id,title\np,https://s.example/yy8,YY8,plain\n"
    assert erase(policy, wh, folders, "source", "p", None, None)["inbox"] == 1
    assert table.read_text(encoding="utf-8") == "source,url,product_id,title\n"


def test_a_live_store_older_than_a_policy_table_is_erased_and_reported_not_crashed_on(state):
    import sqlite3

    with sqlite3.connect(state.live_store_path) as con:
        con.execute("DROP TABLE observations")  # as a store written before the table existed
    policy, wh, folders = load_policy(), Warehouse(state.warehouse_path), StoreFolders.of(state)
    counts = erase(policy, wh, folders, "product_id", GONE, None, None)
    assert counts["live_observations"] == 0 and counts["live_products"] == 2
    rows = {r.store: r for r in holdings(policy, wh, folders)}
    assert rows["live_observations"].count == 0 and rows["live_products"].count == 2


def test_a_subject_keyed_by_a_log_level_leaves_the_level_words_of_every_log(state):
    """A partner's product "INFO" in the inbox makes it a held subject: its erasure still takes from
    the logs only lines naming it in a URL, a pair or quotes, not every line at level INFO."""
    (state.inbox_dir / "drop.jsonl").write_text(json.dumps({"source": "p7", "product_id": "INFO"}) + "\n")
    crawl_log = state.crawls_dir / "replay-old" / "crawl.log"
    crawl_log.write_text(crawl_log.read_text() + "2026-05-01 10:00:03 [edge_insights] WARNING: no price on "
                         "https://shop.example/INFO\n")
    counts = erase(load_policy(), Warehouse(state.warehouse_path), StoreFolders.of(state), "product_id", "INFO",
                   None, None)
    assert counts["inbox"] == 1 and counts["crawl_logs"] == 1 and counts["run_logs"] == 0
    assert "INFO: Spider opened" in crawl_log.read_text() and "/INFO" not in crawl_log.read_text()


def test_quarantined_records_that_did_not_parse_are_erased_with_their_subject(state):
    wh = Warehouse(state.warehouse_path)
    # A pushed line cut short keeps its key (compact JSON, as the intake stores it); a CSV line
    # names the product only as a word, erased once a keyed store held the product.
    wh.write_quarantine("run-2", "harvest", [
        {"product_id": None, "source": "partner", "reason": "row: not JSON",
         "record_json": '{"source":"partner","price":"1.5","product_id":"ZZSECRET3",',
         "quarantined_at": NOW.isoformat()},
        {"product_id": None, "source": "partner", "reason": "row: not JSON",
         "record_json": f"{GONE},12.50,GBP,broken", "quarantined_at": NOW.isoformat()},
        {"product_id": None, "source": "partner", "reason": "row: not JSON",
         "record_json": f"{GONE}-2,12.50,GBP,broken", "quarantined_at": NOW.isoformat()}])
    policy, folders = load_policy(), StoreFolders.of(state)

    secret = erase(policy, wh, folders, "product_id", "ZZSECRET3", None, None)
    gone = erase(policy, wh, folders, "product_id", GONE, None, None)

    assert secret["quarantine"] == 1 and sum(secret.values()) == 1
    assert gone["quarantine"] == 3  # its two keyed rows and the CSV line
    assert traces(policy, wh, folders, "ZZSECRET3")["quarantine"] == 0
    left = wh.frame("SELECT record_json FROM quarantine WHERE contains(record_json, ?)", [GONE])["record_json"]
    assert left.to_list() == [f"{GONE}-2,12.50,GBP,broken"]  # another product, whose id starts with this one's


def test_an_unkeyed_entry_without_a_reason_is_refused(tmp_path):
    bad = tmp_path / "policy.toml"
    bad.write_text('[unkeyed]\ndagster = ""\n')
    with pytest.raises(PolicyError, match="unkeyed"):
        load_policy(bad)


GOOD_STORE = {"kind": '"table"', "time": '"crawled_at"', "retention_days": "30", "purpose": '"p"', "why": '"w"',
              "regions": '["eu"]'}


@pytest.mark.parametrize("key, value, message", [
    ("retention_days", "true", "whole number of days"),     # a bool is an int in Python
    ("retention_days", "1.5", "whole number of days"),
    ("regions", '"eu"', "non-empty list of distinct region names"),  # would read as regions e and u
    ("regions", '["EU west"]', "non-empty list of distinct region names"),
    ("purpose", "7", "purpose must be text"),
    ("time", "3", "a time-bound store needs"),
    ("retension_days", "30", "unknown key"),                 # a typo must not leave the store unbounded
    ("retention_days", "1000000", "from 1 to 36500"),        # its cutoff would leave the calendar
    ("time", '"   "', "a time-bound store needs"),
    ("regions", '["eu", "eu"]', "distinct region names"),
    ("aggregate_into", '"price_monthly"', "only it takes one"),  # on a delete store
    ("database", '"live"', "only it takes them"),                # on a warehouse table
])
def test_a_policy_value_of_the_wrong_type_is_refused(tmp_path, key, value, message):
    body = {**GOOD_STORE, key: value}
    bad = tmp_path / "policy.toml"
    bad.write_text('central_region = "eu"\n[stores.x]\n' + "".join(f"{k} = {v}\n" for k, v in body.items()))
    with pytest.raises(PolicyError, match=message):
        load_policy(bad)
    good = tmp_path / "good.toml"
    good.write_text('central_region = "eu"\n[stores.x]\n' + "".join(f"{k} = {v}\n" for k, v in GOOD_STORE.items()))
    assert load_policy(good).store("x").retention_days == 30


@pytest.mark.parametrize("head, message", [
    ('central_region = "eu"\nversion = true\n', "version must be a whole number"),
    ("", "needs central_region"),
    ('central_region = "eu"\nfields = 3\n', r"\[fields\] must be a table"),
    ('central_region = "eu"\n[fields]\ntitle = "eu"\n', "field 'title': regions must be"),
    ('central_region = "eu"\nversoin = 2\n', "unknown key"),
    ('central_region = "eu"\n[fields]\ntitel = ["eu"]\n', "titel, which no decision's contract has"),
    ('central_region = "eu"\n[store.x]\nkind = "table"\n', "unknown key"),  # [store], not [stores]
    ('\ufeffcentral_region = "eu"\n[stores.x]\nkind = "files"\ntime = "crawled_at"\nretention_days = 3\n'
     'purpose = "p"\nwhy = "w"\nregions = ["eu"]\n', 'aged on time = "mtime"'),  # a BOM is read past
    ('central_region = "eu"\n[stores.x]\nkind = "table"\naction = "aggregate"\naggregate_into = "y"\n'
     'time = "t"\nretention_days = 3\npurpose = "p"\nwhy = "w"\nregions = ["eu"]\n', "names no store"),
    ("x = " + "[" * 3000 + "]" * 3000 + "\n", "cannot read privacy policy"),
])
def test_a_policy_header_of_the_wrong_type_is_refused(tmp_path, head, message):
    bad = tmp_path / "policy.toml"
    bad.write_text(head, encoding="utf-8")
    with pytest.raises(PolicyError, match=message):
        load_policy(bad)


def test_a_policy_file_that_is_not_utf8_is_refused(tmp_path):
    bad = tmp_path / "policy.toml"
    bad.write_bytes('central_region = "eu"\n# café\n'.encode("latin-1"))
    with pytest.raises(PolicyError, match="cannot read privacy policy"):
        load_policy(bad)


def test_the_demo_summary_prints_the_privacy_totals_and_the_retention_result(state):
    from rich.console import Console

    from edge_insights.demo import JobOutcome, privacy_summary
    from edge_insights.report import privacy_table

    retention = JobOutcome(run_id="r", success=True, checks={"no_rows_past_retention": True},
                           assets={"retention": {"removed_total": 12, "aggregated": 4, "seconds": 0.4}})
    summary = privacy_summary(state, retention)
    assert summary["table_rows"] == 10 + 6 + 4 + 2 and summary["files"] == 2 + 2  # staging, inbox; crawl, run log
    assert summary["decision_log"]["files"] == 4 and summary["oldest"]["store"] == "signal_history"
    console = Console(width=200, record=True)
    console.print(privacy_table(summary))
    text = console.export_text()
    assert "12 removed, 4 folded into price_monthly, no_rows_past_retention passed · 0.4 s" in text
    assert f"kept until {summary['oldest']['until']} (1095 days, then folded into price_monthly)" in text
