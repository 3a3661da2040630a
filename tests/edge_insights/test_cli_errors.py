"""``edge-insights serve`` and ``demo`` refuse bad arguments and unservable bundles cleanly:
exit status 2 and a short message, never a traceback, and nothing started on the way."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_insights.cli import app
from release_keys import signed


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    """A state folder that does not exist yet, and an empty data folder."""
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("EDGE_INSIGHTS_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "state"


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("args, named", [
    (("serve", "--port", "70000"), "--port"),
    (("serve", "--port", "0"), "--port"),
    (("serve", "--threads", "0"), "--threads"),
    (("serve", "--central-url", "127.0.0.1:8101"), "--central-url"),
    (("serve", "--central-url", "ftp://central.example"), "--central-url"),
    (("serve", "--central-url", "http://"), "--central-url"),
    (("demo", "--preset", "nonsense"), "--preset"),
    (("demo", "--shadow-rate", "1.5"), "--shadow-rate"),
    (("demo", "--max-pages", "-1"), "--max-pages"),
])
def test_bad_arguments_are_usage_errors_before_anything_runs(state, args, named):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert named in result.output and "Traceback" not in result.output
    assert not state.exists()  # neither a pod nor a job got as far as the state folder


def test_an_unknown_preset_lists_the_known_ones(state):
    result = invoke("demo", "--preset", "nonsense")
    # The usage error is drawn in a box; its text wraps inside the border.
    text = " ".join(result.output.replace("│", " ").split())
    assert "unknown preset 'nonsense'; choose one of demo, full, tiny" in text


def deployed(bundle, state: Path) -> Path:
    """The test bundle deployed where ``serve`` looks for the champion."""
    return Path(shutil.copytree(bundle.path, state / "deploy" / "negative_review" / "champion"))


@pytest.mark.parametrize("spoil, args, reason", [
    # Signed after the edit: a manifest the release key signed yet cannot be parsed.
    (lambda d: signed((d / "manifest.json").write_text("{not json") and d), (),
     "manifest.json in {deploy} is not valid JSON: Expecting property name enclosed in double quotes: "
     "line 1 column 2 (char 1)"),
    (lambda d: (d / "release.json").write_text(json.dumps({
        "model_name": "price_spike", "model_version": "3", "alias": "champion"})), (),
     "release.json in {deploy} releases model 'price_spike', but the bundle is 'test-minilm-1l' "
     "deciding 'negative_review'"),
    (lambda d: None, ("--shadow-rate", "1.5"), "shadow_rate must lie in [0, 1], got 1.5"),
])
def test_serve_refuses_an_unservable_pod_in_one_line(edge_bundle, state, spoil, args, reason):
    deploy = deployed(edge_bundle, state)
    spoil(deploy)
    result = invoke("serve", *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"refusing to start: {reason.format(deploy=deploy)}"]


def test_evaluate_data_without_book_pages_or_price_history_is_a_clear_error(tmp_path):
    from edge_insights.evaluate import LOADERS

    with pytest.raises(FileNotFoundError, match="no book pages"):
        LOADERS["urgent_inventory"](tmp_path)
    # It was the bare "[Errno 2] No such file or directory: '…/observations.csv.gz'".
    with pytest.raises(FileNotFoundError, match=r"no price history \(observations.csv.gz\) in "):
        LOADERS["price_spike"](tmp_path)


@pytest.mark.parametrize("decision, name, content, message", [
    ("price_spike", "observations.csv.gz", b"timestamp,asin", "Not a gzipped file (b'ti')"),
    ("price_spike", "observations.csv.gz", gzip.compress(b"", mtime=0), "observations.csv.gz: header None, expected"),
    ("negative_review", "amazon_alexa_reviews.tsv", b"rating\tverified_reviews\n\xff\xfe\t1\n",
     "'utf-8' codec can't decode byte 0xff"),
])
def test_evaluate_data_it_cannot_read_is_a_clear_error(state, tmp_path, decision, name, content, message):
    # --pod: the data is read before any pod is asked, so none need be running.
    folder = tmp_path / "data_in"
    folder.mkdir()
    (folder / name).write_bytes(content)
    result = invoke("evaluate", decision, "--data-dir", str(folder), "--pod", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {folder} cannot be read as {decision} data: ")
    assert message in result.stderr


def test_evaluate_an_empty_review_file_is_no_examples_not_a_traceback(state, tmp_path):
    (tmp_path / "amazon_alexa_reviews.tsv").write_bytes(b"")
    result = invoke("evaluate", "negative_review", "--data-dir", str(tmp_path), "--pod", "http://127.0.0.1:9")
    assert (result.exit_code, result.output.strip()) == (2, f"no labelled negative_review examples found in {tmp_path}")


def test_evaluate_a_champion_with_a_broken_release_file_is_refused_before_scoring(edge_bundle, state, tmp_path):
    deploy = deployed(edge_bundle, state)
    (deploy / "release.json").write_text("{")
    reviews = tmp_path / "reviews"
    reviews.mkdir()
    (reviews / "amazon_alexa_reviews.tsv").write_text("rating\tdate\tvariation\tverified_reviews\tfeedback\n"
                                                      "1\t1-Jul-18\tBlack\tBroke in a day\t0\n", "utf-8")
    result = invoke("evaluate", "negative_review", "--data-dir", str(reviews))
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"error: the deployed champion of negative_review cannot be scored: no readable release.json in {deploy}: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")


@pytest.mark.parametrize("args", [["scrub", "hi"],
                                  ["watch", "--sitemap", "http://127.0.0.1:9/sitemap.txt", "--no-decider"]])
def test_a_state_folder_under_a_file_is_refused_before_torch_is_imported(tmp_path, args):
    """A real process: torch, imported by these two, makes its compiler cache folder inside the state
    folder on import (a traceback here once); in this test process torch may be loaded already."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    env = {**os.environ, "EDGE_INSIGHTS_STATE_DIR": str(blocker / "state")}
    done = subprocess.run([sys.executable, "-m", "edge_insights.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"error: EDGE_INSIGHTS_STATE_DIR lies under a file ({blocker}), not a folder: "
                           f"{blocker / 'state'}\n")
