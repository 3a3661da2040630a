"""``scrub TEXT`` / ``scrub -``: scrubbed text and typed spans as JSON lines."""

from __future__ import annotations

import io
import json

from data_quality.pii_command import scrub_command


def test_text_argument_gives_one_json_line_with_spans():
    out = io.StringIO()
    text = "Mail: jörg.weiß@bücher-laden.de, ask Heather"
    assert scrub_command(text, io.StringIO(""), out) == (1, 0)
    result = json.loads(out.getvalue())
    assert result == {"text": "Mail: <EMAIL>, ask <PERSON>",
                      "spans": [{"start": 6, "end": 31, "type": "EMAIL"},
                                {"start": 37, "end": 44, "type": "PERSON"}]}
    # Offsets point into the input; the output never repeats the value.
    assert text[6:31] == "jörg.weiß@bücher-laden.de"
    assert "jörg" not in out.getvalue()


def test_dash_reads_stdin_one_json_line_per_line():
    stdin = io.StringIO("Order line (212)555-0187 03/14/2024 09:12:44\nLove my Echo Dot\n\n")
    out = io.StringIO()
    assert scrub_command("-", stdin, out) == (3, 0)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == [
        {"text": "Order line <PHONE> 03/14/2024 09:12:44",
         "spans": [{"start": 11, "end": 24, "type": "PHONE"}]},
        {"text": "Love my Echo Dot", "spans": []},
        {"text": "", "spans": []},
    ]
