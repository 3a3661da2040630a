"""The central store's region against the repository's privacy policy: a state folder in a region
that some store may not be kept in is refused before anything is written — by the settings, the
command line (exit 2, one error line) and the Dagster definitions."""

from __future__ import annotations

import dataclasses

import pytest
from typer.testing import CliRunner

from commons.privacy_policy import load_policy
from commons.residency import ResidencyViolation, ensure_central_residency
from commons.settings import REGION_ENV, STATE_ENV, Settings
from edge_insights.cli import app
from orchestration.definitions import build_definitions


def test_the_policy_region_is_the_default_and_every_store_may_be_kept_there():
    policy = load_policy()
    assert ensure_central_residency(policy, None) == policy.central_region == "eu"
    assert ensure_central_residency(policy, "eu") == "eu"


def test_a_region_that_some_store_may_not_be_kept_in_is_refused_with_each_store_named():
    policy = load_policy()
    with pytest.raises(ResidencyViolation) as refused:
        ensure_central_residency(policy, "us")
    named = {s.name for s in policy.stores.values() if "us" not in s.regions}
    assert "signal_history" in named and "live_changes" in named
    assert all(f"{name} (allowed: eu)" in str(refused.value) for name in named)
    # Stores the policy lets live in the US are not named.
    assert "price_monthly (" not in str(refused.value) and "decision_log (" not in str(refused.value)
    with pytest.raises(ResidencyViolation, match="unknown region 'mars'"):
        ensure_central_residency(policy, "mars")


def test_settings_refuse_before_creating_anything(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv(REGION_ENV, "us")
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "state"))
    settings = Settings.from_env()
    assert settings.region == "us" and settings.environment()[REGION_ENV] == "us"
    with pytest.raises(ResidencyViolation):
        settings.ensure()
    with pytest.raises(ResidencyViolation):
        build_definitions(dataclasses.replace(settings, data_dir=data_dir))
    assert not (tmp_path / "state").exists()
    # Commands that only read a store, or write one entry, are refused too (not only those that create it).
    for command in (["report"], ["insights", "--limit", "1"], ["privacy", "report"], ["erase", "--product", "P-1"],
                    ["token", "issue", "--decision", "price_spike"]):
        done = CliRunner().invoke(app, command)
        assert done.exit_code == 2 and "error: the central store is in region 'us'" in done.output, command
    assert not (tmp_path / "state").exists()
