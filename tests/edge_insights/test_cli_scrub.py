"""``edge-insights scrub``: scrubbed text and typed spans, one JSON line per input."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from data_quality.pii_command import MAX_LINE_CHARS
from data_quality.pii_tagger import INT8_FILE, TOKENIZER_FILE
from data_quality.pii_tagger_training import base_model_path
from edge_insights.cli import app


def test_scrub_text_and_stdin_lines():
    runner = CliRunner()
    one = runner.invoke(app, ["scrub", "Mail: jörg.weiß@bücher-laden.de or call (212)555-0187 03/14/2024"])
    assert one.exit_code == 0, one.output
    [line] = one.stdout.splitlines()
    assert json.loads(line) == {"text": "Mail: <EMAIL> or call <PHONE> 03/14/2024",
                                "spans": [{"start": 6, "end": 31, "type": "EMAIL"},
                                          {"start": 40, "end": 53, "type": "PHONE"}]}
    many = runner.invoke(app, ["scrub", "-"], input="The banner@2x.png looks blurry\nref212-555-0187\n")
    assert [json.loads(x)["text"] for x in many.stdout.splitlines()] == ["The banner@2x.png looks blurry",
                                                                          "ref<PHONE>"]


def test_without_a_name_tagger_the_scrub_says_it_runs_on_the_rules_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path / "state"))
    done = CliRunner().invoke(app, ["scrub", "mail jane@example.org"])
    assert done.exit_code == 0
    assert json.loads(done.stdout)["text"] == "mail <EMAIL>"
    assert "names by the rules alone" in done.stderr and str(tmp_path / "state" / "pii_tagger") in done.stderr


@pytest.mark.parametrize("present", ["tagger.int8.onnx", "tokenizer.json"])
def test_a_tagger_folder_with_one_file_of_two_stops_the_scrub(tmp_path, monkeypatch, present):
    """Damaged, not absent: finding names by the rules alone would pass unnoticed."""
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "state" / "pii_tagger").mkdir(parents=True)
    (tmp_path / "state" / "pii_tagger" / present).write_bytes(b"x")
    done = CliRunner().invoke(app, ["scrub", "Got it from Oluwaseun last week"])
    assert done.exit_code == 2 and done.stdout == ""
    assert f"is incomplete: {present} without" in done.stderr and "pii_name_tagger" in done.stderr


def test_a_line_too_long_is_refused_alone_and_the_run_exits_1():
    long_line = "Call 020 7946 0321 " + "x" * (MAX_LINE_CHARS + 1)
    done = CliRunner().invoke(app, ["scrub", "-"], input=f"mail jane@example.org\n{long_line}\nfax 020 7946 0999\n")
    assert done.exit_code == 1
    results = [json.loads(x) for x in done.stdout.splitlines()]
    assert results == [
        {"text": "mail <EMAIL>", "spans": [{"start": 5, "end": 21, "type": "EMAIL"}]},
        {"line": 2, "error": f"a line of {len(long_line):,} characters is over the limit of {MAX_LINE_CHARS:,}"},
        {"text": "fax <PHONE>", "spans": [{"start": 4, "end": 17, "type": "PHONE"}]},
    ]
    assert "1 input line(s) over 100,000 characters or not UTF-8 were not scrubbed" in done.stderr
    assert "7946 0321" not in done.stdout


def test_a_line_that_is_not_utf8_is_refused_alone_not_guessed_at():
    # Latin-1 bytes of "Jörg" and a phone: replaced by U+FFFD they were once scrubbed and exit 0.
    data = b"mail jane@example.org\r\n\xff\xfe J\xf6rg 020 7946 0321\nfax 020 7946 0999\n"
    done = CliRunner().invoke(app, ["scrub", "-"], input=data)
    assert done.exit_code == 1
    results = [json.loads(x) for x in done.stdout.splitlines()]
    assert results == [
        {"text": "mail <EMAIL>", "spans": [{"start": 5, "end": 21, "type": "EMAIL"}]},
        {"line": 2, "error": "not UTF-8: byte 0xff at offset 0"},
        {"text": "fax <PHONE>", "spans": [{"start": 4, "end": 17, "type": "PHONE"}]},
    ]


def test_text_whose_bytes_are_not_utf8_is_refused_as_a_stdin_line_is():
    """Python hands argv's undecodable bytes (here Latin-1 "J\xf6rg") over as lone surrogates: once
    they became U+FFFD, "J\ufffdrg" was scrubbed and the run exited 0."""
    argv_text = b"J\xf6rg jane@example.org".decode("utf-8", "surrogateescape")
    done = CliRunner().invoke(app, ["scrub", argv_text])
    assert done.exit_code == 1
    assert [json.loads(x) for x in done.stdout.splitlines()] == [
        {"line": 1, "error": "not UTF-8: byte 0xf6 at offset 1"}]
    assert "jane@example.org" not in done.stdout


def test_a_damaged_name_tagger_stops_the_scrub_with_the_way_to_rebuild_it(tmp_path, monkeypatch):
    folder = tmp_path / "state" / "pii_tagger"
    folder.mkdir(parents=True)
    (folder / INT8_FILE).write_bytes(b"not an ONNX model")  # a copy cut short, a disk fault
    shutil.copyfile(base_model_path() / TOKENIZER_FILE, folder / TOKENIZER_FILE)
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path / "state"))
    done = CliRunner().invoke(app, ["scrub", "Ask Haraldsdottir about the warranty."])
    assert done.exit_code == 2 and done.stdout == ""
    assert "cannot be loaded" in done.stderr and "pii_name_tagger" in done.stderr
    assert "Traceback" not in done.output


def test_the_scrub_writes_nothing_to_the_temp_folder(tmp_path):
    """torch, which spaCy imports, makes $TMPDIR/torchinductor_<user> unless pointed elsewhere:
    everything a run writes goes under the state folder."""
    import os
    import subprocess
    import sys

    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "EDGE_INSIGHTS_STATE_DIR": str(tmp_path / "state")}
    env.pop("TORCHINDUCTOR_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-m", "edge_insights", "scrub", "mail jane@example.org"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["text"] == "mail <EMAIL>"
    assert list(temp.iterdir()) == []
