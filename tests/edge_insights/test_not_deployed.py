"""A command that needs a deployed decision says why there is none: never run, or refused by the gate."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from edge_insights.cli import app


def test_serve_names_the_gate_that_refused_the_challenger(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path))
    never = CliRunner().invoke(app, ["serve", "--decision", "negative_review"])
    assert never.exit_code == 2 and "run `make demo` first" in " ".join(never.output.split()), never.output

    refusal = "not promoted: student F1 0.8163 < 0.95 × teacher F1 0.8610"
    (tmp_path / "demo_summary.json").write_text(json.dumps({"decisions": {"negative_review": {"registry": {
        "model_name": "negative_review", "version": 1, "promoted": False, "promotion": refusal}}}}))
    refused = CliRunner().invoke(app, ["serve", "--decision", "negative_review"])
    said = " ".join(refused.output.split())
    assert refused.exit_code == 2
    assert f"the promotion gate refused negative_review's challenger (version 1: {refusal})" in said
    assert "make demo` first" not in said
