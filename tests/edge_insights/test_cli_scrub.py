"""``edge-insights scrub``: scrubbed text and typed spans, one JSON line per input."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from edge_insights.cli import app


def test_scrub_text_and_stdin_lines():
    runner = CliRunner()
    one = runner.invoke(app, ["scrub", "Mail: jörg.weiß@bücher-laden.de or call (212)555-0187 03/14/2024"])
    assert one.exit_code == 0, one.output
    [line] = one.output.splitlines()
    assert json.loads(line) == {"text": "Mail: <EMAIL> or call <PHONE> 03/14/2024",
                                "spans": [{"start": 6, "end": 31, "type": "EMAIL"},
                                          {"start": 40, "end": 53, "type": "PHONE"}]}
    many = runner.invoke(app, ["scrub", "-"], input="The banner@2x.png looks blurry\nref212-555-0187\n")
    assert [json.loads(x)["text"] for x in many.output.splitlines()] == ["The banner@2x.png looks blurry",
                                                                          "ref<PHONE>"]
