"""``edge-insights drift-drill`` refuses what it cannot drill cleanly: exit status 2 and one line, never
a traceback, and nothing trained on the way."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from commons.warehouse import Warehouse, flatten
from edge_insights.cli import app


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def invoke(*args: str):
    return CliRunner().invoke(app, ["drift-drill", *args])


def test_a_decision_without_a_drill_is_a_usage_error(state):
    result = invoke("--decision", "urgent_inventory")
    assert result.exit_code == 2 and "--decision" in result.output and "Traceback" not in result.output
    assert not state.exists()


def test_an_unknown_preset_is_a_usage_error_before_anything_runs(state):
    result = invoke("--decision", "price_spike", "--preset", "bogus")
    assert result.exit_code == 2 and "unknown preset 'bogus'; choose one of" in " ".join(result.output.split())
    assert "Traceback" not in result.output and not state.exists()


def test_the_review_drill_needs_a_deployed_champion(state):
    result = invoke("--decision", "negative_review")
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "nothing deployed at" in said and "negative_review/champion: run `make demo` first" in said


def test_the_price_drill_refuses_a_state_holding_the_shifted_period(state):
    record = {"source": "amazon_jp_price_history", "url": "https://www.amazon.co.jp/dp/B000000001",
              "product_id": "B000000001", "title": "USB charger", "price": "3990", "currency": "JPY",
              "availability": "unknown", "crawled_at": "2025-03-01T06:00:00+00:00", "content_digest": "0" * 64}
    warehouse = Warehouse(state / "warehouse.duckdb")
    warehouse.append_rows_to_history("run", [flatten(record, "run", "prices", "2025-03-01")])
    assert warehouse.history("prices").height == 1
    result = invoke("--decision", "price_spike")
    assert result.exit_code == 2, result.output
    assert "holds price history up to 2025-03-01" in result.output and "from 2025-01-01 on" in result.output
    assert not (state / "deploy" / "price_spike").exists()  # nothing was trained
