"""The insight digest over a real DuckDB warehouse and a chained decision log holding lines from
before pods logged ``route_reason`` and after."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from commons.warehouse import Warehouse
from live.digest import insight_digest
from serving.decision_log import DecisionLog

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)


def _line(digest: str, route: str, reason: str | None, central: str | None) -> dict:
    line = {"ts": NOW.isoformat(timespec="milliseconds"), "decision": "price_spike", "label": central or "spike",
            "score": 0.9, "route": route, "signal_digest": digest, "edge_label": "spike", "edge_score": 0.6,
            "central_label": central, "shadow": False}
    return line if reason is None else {**line, "route_reason": reason}


def test_the_digest_counts_insights_by_logged_route_reason_old_lines_as_unrecorded(tmp_path):
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    routes = {"d-old": "central", "d-range": "central", "d-sure": "edge", "d-unlogged": "edge"}
    warehouse.append_insights([{"insight_id": f"i-{d}", "decision": "price_spike", "route": route, "alert": False,
                                "signal_digest": d, "published_at": (NOW - timedelta(hours=1)).isoformat()}
                               for d, route in routes.items()])
    log = DecisionLog(tmp_path / "log")
    log.append([_line("d-old", "central", None, "no_spike"), _line("d-range", "central", "out_of_range", "spike"),
                _line("d-sure", "edge", "confident", None)])
    log.close()
    digest = insight_digest(warehouse, tmp_path / "log", NOW - timedelta(days=1), NOW)
    assert digest["per_decision"]["price_spike"] == {
        "insights": 4, "alerts": 0, "routes": {"central": 2, "edge": 2},
        "route_reasons": {"central": {"out_of_range": 1, "unrecorded": 1}, "edge": {"confident": 1}},
        "compared": 2, "agreement": 0.5}


def test_a_replayed_line_of_the_same_signal_does_not_stand_in_for_the_watchers_line(tmp_path):
    """An evaluation replay decided the insight's window again afterwards, the edge abstaining and
    central disagreeing: the digest still reads the line of the live decision."""
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    warehouse.append_insights([{"insight_id": "i-live", "decision": "price_spike", "route": "edge", "alert": False,
                                "signal_digest": "d-live", "published_at": (NOW - timedelta(hours=1)).isoformat()}])
    log = DecisionLog(tmp_path / "log")
    log.append([{**_line("d-live", "edge", "confident", "spike"), "shadow": True, "traffic": "production"},
                {**_line("d-live", "central", "abstain", "no_spike"), "traffic": "replay"}])
    log.close()
    digest = insight_digest(warehouse, tmp_path / "log", NOW - timedelta(days=1), NOW)
    assert digest["per_decision"]["price_spike"]["route_reasons"] == {"edge": {"confident": 1}}
    assert (digest["per_decision"]["price_spike"]["compared"], digest["per_decision"]["price_spike"]["agreement"]) \
        == (1, 1.0)
