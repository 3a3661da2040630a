"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from commons.key_store import key_store
from commons.settings import PII_TAGGER_ENV, SIGNING_KEYS_ENV, Settings

# Fixtures that build models, start servers or run jobs: a test using one is in the slow tier.
SLOW_FIXTURES = {"edge_bundle", "central_bundle", "hybrid_bundle", "hybrid_central_bundle", "webhook", "job_run",
                 "token_plane"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tiers: ``e2e`` (tests/e2e), ``slow`` (a slow fixture or a module marked slow), the rest
    are units (``make test-fast`` runs them)."""
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.e2e)
        elif SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def _state_in_tmp(tmp_path_factory) -> Path:
    """Every test run writes under a fresh temporary state folder, never ``var/`` or ``$HOME``."""
    state = tmp_path_factory.mktemp("state")
    os.environ["EDGE_INSIGHTS_STATE_DIR"] = str(state)
    # Pods of every test trust the session's release key (tests/release_keys.py), also where a
    # test moves the state folder.
    os.environ["EDGE_INSIGHTS_RELEASE_TRUST"] = str(state / "signing" / "trusted")
    settings = Settings.from_env().ensure()
    # Token-issuing and audit keys of every test are made in the session's SoftHSM token (the
    # release key's), also where a test moves the state folder: SoftHSM serves one token folder
    # per process. Without SoftHSM2 they are PEM files.
    os.environ[SIGNING_KEYS_ENV] = key_store(settings)
    return state


@pytest.fixture(autouse=True)
def _scrub_with_the_sessions_tagger_folder(_state_in_tmp: Path, monkeypatch) -> None:
    """In-process scrubbing looks for a name tagger in the session's own state folder, where none is
    built, whatever folder an earlier test's ``Settings.ensure()`` pointed it at (the end-to-end
    job's tiny tagger would otherwise change later tests' results by their order); a test that
    wants a tagger sets ``PII_TAGGER_ENV`` itself."""
    monkeypatch.setenv(PII_TAGGER_ENV, str(_state_in_tmp / "pii_tagger"))


@pytest.fixture(scope="module")
def token_plane(tmp_path_factory):
    """A token endpoint (``edge-insights token serve``, a real process) over a fresh state folder of
    the module's: its ``settings`` for pods started with :func:`edge_insights.pods.running_pod`."""
    from edge_insights.pods import running_token_plane

    settings = Settings.from_env(state_dir=tmp_path_factory.mktemp("token_state")).ensure()
    with running_token_plane(settings) as plane:
        yield plane


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real-data folder; tests needing it skip when it is absent."""
    path = Settings.from_env().data_dir
    if not path.is_dir():
        pytest.skip(f"shared data folder not found at {path}; set EDGE_INSIGHTS_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def edge_bundle(tmp_path_factory, data_dir):
    """A deployed 1-layer MiniLM test bundle (``bundle_factory.BuiltBundle``), built once per session.

    Its abstain threshold splits the reference sentences, so some route to central.
    """
    from bundle_factory import build_bundle  # torch and transformers load only when asked for

    return build_bundle(tmp_path_factory.mktemp("bundles") / "edge", layers=1, seed=11,
                        model_version="3")


@pytest.fixture(scope="session")
def central_bundle(tmp_path_factory, data_dir):
    """A deployed 2-layer MiniLM test bundle standing in for the central (teacher) model."""
    from bundle_factory import build_bundle

    return build_bundle(tmp_path_factory.mktemp("bundles") / "central", layers=2, seed=22,
                        model_version="7", abstain=0.5)


@pytest.fixture(scope="session")
def hybrid_bundle(tmp_path_factory, data_dir):
    """A deployed 1-layer ``price_spike`` bundle reading a title and a raw price window
    (``bundle_factory.BuiltHybridBundle``); its abstain threshold splits the reference windows."""
    from bundle_factory import build_hybrid_bundle

    return build_hybrid_bundle(tmp_path_factory.mktemp("bundles") / "hybrid_edge", layers=1, seed=31,
                               model_version="4")


@pytest.fixture(scope="session")
def hybrid_central_bundle(tmp_path_factory, data_dir):
    """A deployed 2-layer ``price_spike`` bundle standing in for the central model."""
    from bundle_factory import build_hybrid_bundle

    return build_hybrid_bundle(tmp_path_factory.mktemp("bundles") / "hybrid_central", layers=2,
                               seed=32, model_version="8", abstain=0.5)
