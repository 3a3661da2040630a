"""``edge-insights evaluate --pod URL`` scores a running pod with its own token: a real rule pod of
price_spike (auth on, as the demo starts it), the token endpoint a real process, the first real
price observations of the shared data. The rule pod's answer is the label itself, so the score is
exact; without a credential the pod's 401 is a clean error."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest
from typer.testing import CliRunner

from commons.settings import Settings
from commons.token_client import CLIENT_ID_ENV, CLIENT_SECRET_ENV, TOKEN_URL_ENV
from edge_insights.broker_load import deploy_rule_pod
from edge_insights.cli import app
from edge_insights.evaluate import LOADERS
from training.decisions import DECISIONS
from training.divergence import read_decisions, traffic_of
from edge_insights.pods import running_pod, running_token_plane
from release_keys import session_signer

pytestmark = pytest.mark.slow  # starts processes

OBSERVATIONS = 40_000


@pytest.fixture
def prices(data_dir, tmp_path):
    """The first observations of the Amazon JP price history, with its products file."""
    source = data_dir / "price_history_amazon_jp"
    folder = tmp_path / "prices"
    folder.mkdir()
    with gzip.open(source / "observations.csv.gz", "rt", encoding="utf-8") as full, \
            gzip.open(folder / "observations.csv.gz", "wt", encoding="utf-8") as head:
        for _, line in zip(range(OBSERVATIONS + 1), full):
            head.write(line)
    shutil.copy(source / "products.csv", folder / "products.csv")
    return folder


def test_evaluate_scores_a_pod_with_its_own_token(prices, tmp_path, monkeypatch):
    _, set_aside = LOADERS["price_spike"](prices)
    # The first three real rows with a mistyped ASIN: scored without them, and the JSON counts them.
    with gzip.open(prices / "observations.csv.gz", "rt", encoding="utf-8") as handle:
        lines = handle.readlines()
    mistyped = [",".join([cells[0], cells[1][:4], *cells[2:]]) for cells in (row.split(",") for row in lines[1:4])]
    with gzip.open(prices / "observations.csv.gz", "wt", encoding="utf-8") as handle:
        handle.writelines(lines[:1] + mistyped + lines[4:])
    settings = Settings.from_env(state_dir=tmp_path / "state").ensure()
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(settings.state_dir))
    with running_token_plane(settings) as plane, \
            running_pod(deploy_rule_pod(tmp_path / "pod", session_signer()), settings, tokens=plane) as url:
        args = ["evaluate", "price_spike", "--data-dir", str(prices), "--pod", url]
        refused = CliRunner().invoke(app, args)
        for name, value in plane.client_env("evaluate", ["price_spike"]).items():
            monkeypatch.setenv(name, value)
        scored = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "401 Unauthorized" in refused.output
    assert "EDGE_INSIGHTS_CLIENT_SECRET" in " ".join(refused.output.split())
    assert scored.exit_code == 0, scored.output
    result = json.loads(scored.output.strip().splitlines()[-1])
    assert result["n"] > 100 and result["pod"] == url and result["model_version"] == "1"
    frame, _ = LOADERS["price_spike"](prices)
    assert (result["quarantined"], result["no_example"]) == (set_aside.total() + 3,
                                                             DECISIONS["price_spike"].examples(frame)[1])
    assert result["no_example"] > 0  # each product's first window's past, and products with too few changes
    assert result["n"] + result["no_example"] == frame.height  # every price change scored or counted
    # The rule pod answers with the label rule: every example right, all at the "edge" (no central).
    assert (result["precision"], result["recall"], result["f1"], result["edge_coverage"]) == (1.0, 1.0, 1.0, 1.0)
    for name in (TOKEN_URL_ENV, CLIENT_ID_ENV, CLIENT_SECRET_ENV):
        monkeypatch.delenv(name)


def test_evaluate_reads_book_pages_from_a_relative_folder(data_dir, tmp_path, monkeypatch):
    """``--data-dir books_toscrape`` run from the data folder (book pages are parsed with their
    file:// URI, which a relative path has none of)."""
    settings = Settings.from_env(state_dir=tmp_path / "state").ensure()
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(settings.state_dir))
    pages = len(list((data_dir / "books_toscrape" / "site").glob("catalogue/*/index.html")))
    with running_token_plane(settings) as plane, \
            running_pod(deploy_rule_pod(tmp_path / "pod", session_signer(), "urgent_inventory"), settings,
                        tokens=plane) as url:
        for name, value in plane.client_env("evaluate", ["urgent_inventory"]).items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(data_dir)
        scored = CliRunner().invoke(app, ["evaluate", "urgent_inventory", "--data-dir", "books_toscrape",
                                          "--pod", url])
    assert scored.exit_code == 0, scored.output
    result = json.loads(scored.output.strip().splitlines()[-1])
    assert (result["n"], result["edge_coverage"], result["quarantined"], result["no_example"]) == (pages, 1.0, 0, 0)


def test_evaluate_replay_keeps_its_examples_out_of_the_pods_drift_test(prices, tmp_path, monkeypatch):
    """``--replay`` sends the examples as replay traffic: the pod logs every one of them so, and a client
    that may not have scope ``replay`` gets no token for it (one clean line, nothing sent)."""
    settings = Settings.from_env(state_dir=tmp_path / "state").ensure()
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(settings.state_dir))
    with running_token_plane(settings) as plane, \
            running_pod(deploy_rule_pod(tmp_path / "pod", session_signer()), settings, tokens=plane) as url:
        args = ["evaluate", "price_spike", "--data-dir", str(prices), "--pod", url, "--replay"]
        for name, value in plane.client_env("evaluate", ["price_spike"]).items():
            monkeypatch.setenv(name, value)
        refused = CliRunner().invoke(app, args)
        for name, value in plane.client_env("evaluator", ["price_spike"], ("decide", "replay")).items():
            monkeypatch.setenv(name, value)
        scored = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "invalid_scope" in refused.output
    assert scored.exit_code == 0, scored.output
    result = json.loads(scored.output.strip().splitlines()[-1])
    logged = [traffic_of(row) for row in read_decisions(settings.decision_log_dir, "price_spike")]
    assert result["n"] > 100 and logged == ["replay"] * result["n"]
    for name in (TOKEN_URL_ENV, CLIENT_ID_ENV, CLIENT_SECRET_ENV):
        monkeypatch.delenv(name)
