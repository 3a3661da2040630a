"""Which broker the live loop opens: EDGE_INSIGHTS_BROKER read by the settings, the embedded store
when it is unset, a clear error when Redis does not answer (no server needed)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from commons.net import free_port
from commons.settings import Settings, SettingsError
from edge_insights.cli import app
from live.broker import BrokerError, open_broker, redacted
from live.store import LiveStore


def test_the_broker_setting_is_a_redis_url_or_unset(monkeypatch):
    monkeypatch.delenv("EDGE_INSIGHTS_BROKER", raising=False)
    assert Settings.from_env().broker is None
    assert "EDGE_INSIGHTS_BROKER" not in Settings.from_env().environment()
    monkeypatch.setenv("EDGE_INSIGHTS_BROKER", "redis://127.0.0.1:6379/0")
    settings = Settings.from_env()
    assert settings.broker == "redis://127.0.0.1:6379/0"
    assert settings.environment()["EDGE_INSIGHTS_BROKER"] == settings.broker  # child processes share it
    assert "6379" not in repr(settings)  # a broker URL may carry a password
    for bad in ("", "http://127.0.0.1:6379", "127.0.0.1:6379"):
        monkeypatch.setenv("EDGE_INSIGHTS_BROKER", bad)
        with pytest.raises(SettingsError, match="EDGE_INSIGHTS_BROKER"):
            Settings.from_env()


def test_the_pod_token_is_a_setting_kept_out_of_repr_and_child_settings(monkeypatch):
    monkeypatch.setenv("EDGE_INSIGHTS_POD_TOKEN", "secret-token")
    settings = Settings.from_env()
    assert settings.pod_token == "secret-token"
    assert "secret-token" not in repr(settings) and "secret-token" not in settings.environment().values()


def test_unset_opens_the_embedded_store_and_an_unanswered_url_fails_clearly(tmp_path):
    assert isinstance(open_broker(None, tmp_path / "live.sqlite"), LiveStore)
    url = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(BrokerError, match="no Redis broker answers"):
        open_broker(url, tmp_path / "unused.sqlite")
    assert not (tmp_path / "unused.sqlite").exists()
    with pytest.raises(BrokerError) as raised:
        open_broker(f"redis://:s3cret@127.0.0.1:{free_port()}/0", tmp_path / "unused.sqlite")
    assert "s3cret" not in str(raised.value) and ":***@127.0.0.1" in str(raised.value)
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_commands_reading_the_embedded_store_refuse_under_a_redis_broker(monkeypatch):
    monkeypatch.setenv("EDGE_INSIGHTS_BROKER", "redis://127.0.0.1:6379/0")
    for command in (["insights"], ["explain", "0" * 32]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2 and "GET /v1/insights" in result.output
