"""Fixtures of the end-to-end tier: the real slice and one finished tiny run on it, shared by every
module in tests/e2e. The job runs once per test session: under pytest-xdist the first worker to
need it runs it into the session's shared temporary folder while the others wait on a file lock
(the pattern pytest-xdist documents for session fixtures), then every worker reads its outcome.

The slice: 90 days of real price history (backfill partitions), 12 market-replay ticks, the books
mirror served locally (first 15 requests) and the first ROWS_PER_FILE rows of each real review
file, plus the known rows of :mod:`e2e_slice` appended to a copy of the Alexa feed.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
from filelock import FileLock

from commons.settings import Settings
from e2e_slice import BAD_ROWS, ROWS_PER_FILE

# Records skipped at the head of every review file by the drill: more than the slice loaded.
DRILL_SKIP = ROWS_PER_FILE + 30


def _shared_dir(tmp_path_factory, worker_id: str) -> Path:
    """A folder every xdist worker of this session sees (the session's own under a single process)."""
    base = tmp_path_factory.getbasetemp()
    return (base if worker_id == "master" else base.parent) / "e2e_shared"


@pytest.fixture(scope="session")
def slice_data(tmp_path_factory, data_dir: Path, worker_id: str) -> Path:
    """A data folder: the real books mirror, price histories and labelled PII samples (linked),
    the header and first ROWS_PER_FILE rows of each real review file, and the known rows appended
    to the Alexa feed."""
    shared = _shared_dir(tmp_path_factory, worker_id)
    shared.mkdir(parents=True, exist_ok=True)
    root = shared / "data"
    with FileLock(str(shared / "data.lock")):
        if not (root / "done").is_file():
            _write_slice(root, data_dir)
            (root / "done").write_text("ok")
    return root


def _write_slice(root: Path, data_dir: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for folder in ("books_toscrape", "price_history_amazon_jp", "pii_presidio"):
        if not (root / folder).exists():
            (root / folder).symlink_to(data_dir / folder, target_is_directory=True)
    reviews = root / "reviews"
    (reviews / "uci_sentiment_sentences").mkdir(parents=True, exist_ok=True)
    for src in sorted((data_dir / "reviews").rglob("*")):
        if src.is_file() and src.suffix in (".csv", ".tsv", ".txt"):
            header = 1 if src.suffix in (".csv", ".tsv") else 0
            lines = src.read_bytes().splitlines(keepends=True)[: header + ROWS_PER_FILE]
            (reviews / src.relative_to(data_dir / "reviews")).write_bytes(b"".join(lines))
    with open(reviews / "amazon_alexa_reviews.tsv", "a", encoding="utf-8") as fh:
        fh.write("\n".join(BAD_ROWS) + "\n")


@pytest.fixture(scope="session")
def job_run(slice_data: Path, tmp_path_factory, worker_id: str):
    """``edge_insights_job`` (tiny preset) finished in a fresh state folder; (settings, outcome)."""
    from edge_insights.demo import run_job
    from orchestration.partitions import CRAWL_PARTITIONS

    shared = _shared_dir(tmp_path_factory, worker_id)
    # The run's own trust folder: the job signs with the key under its state folder, and every
    # xdist worker's pods must trust that key (not the worker's session key). Its token and audit
    # keys are PEM files: every worker mints tokens with them, and a worker's process already holds
    # its own SoftHSM token (SoftHSM serves one token folder per process).
    settings = Settings.from_env(state_dir=shared / "e2e_state", data_dir=slice_data,
                                 preset="tiny", max_pages=15, max_reviews=0,
                                 release_trust_dir=shared / "e2e_state" / "signing" / "trusted",
                                 signing_keys="pem").ensure()
    with FileLock(str(shared / "job.lock")):
        done = shared / "job_outcome.pickle"
        if not done.is_file():
            for job_name, first, last in (("price_history_backfill", "2024-02-17", "2024-05-16"),
                                          ("market_replay", "2024-06-01", "2024-06-12")):
                loaded = run_job(job_name, settings, partition_range=(first, last))
                assert loaded.success, loaded.failures
            outcome = run_job("edge_insights_job", settings,
                              partition_key=CRAWL_PARTITIONS.get_last_partition_key())
            assert outcome.success, outcome.failures
            done.write_bytes(pickle.dumps(outcome))
        outcome = pickle.loads(done.read_bytes())
    yield settings, outcome
    # Later test modules use the session's own state folder (ensure() points DAGSTER_HOME & co. at it).
    Settings.from_env().ensure()


@pytest.fixture(scope="session")
def drill(job_run, data_dir: Path, tmp_path_factory, worker_id: str) -> dict:
    """The negative_review drift drill on the tiny run's deployed bundles (run once per session):
    real reviews the run never loaded, in-distribution then from other domains (see
    :func:`edge_insights.drift_drill.review_phases`)."""
    from edge_insights.drift_drill import drift_drill, review_phases

    settings, _ = job_run
    shared = _shared_dir(tmp_path_factory, worker_id)
    with FileLock(str(shared / "drill.lock")):
        done = shared / "drill.json"
        if not done.is_file():
            outcome = drift_drill(settings, "negative_review", review_phases(data_dir, skip=DRILL_SKIP))
            done.write_text(json.dumps(outcome))
        return json.loads(done.read_text())


@pytest.fixture(scope="session")
def price_drill(data_dir: Path, tmp_path_factory, worker_id: str):
    """The price_spike drift drill, once per session, in a state folder of its own (tiny preset):
    a champion trained on the real price history before 2025, in-distribution then 2025-26 traffic,
    the retrain with 2025-26 added, held-out records through both; (settings, outcome).

    Not on the job run's state: its 90 days of history give price_spike 9 products and 11 spikes,
    too few held-out windows for the drift tests' minimum samples, and a retrain there would
    replace the champion other e2e modules serve."""
    from edge_insights.price_drill import price_drill as run_price_drill

    shared = _shared_dir(tmp_path_factory, worker_id)
    state = shared / "price_drill_state"
    settings = Settings.from_env(state_dir=state, data_dir=data_dir, preset="tiny",
                                 release_trust_dir=state / "signing" / "trusted")
    with FileLock(str(shared / "price_drill.lock")):
        done = shared / "price_drill.json"
        if not done.is_file():
            # ensure() points DAGSTER_HOME & co. at the drill's state; other modules keep theirs after.
            saved = dict(os.environ)
            try:
                done.write_text(json.dumps(run_price_drill(settings.ensure())))
            finally:
                os.environ.clear()
                os.environ.update(saved)
        return settings, json.loads(done.read_text())
