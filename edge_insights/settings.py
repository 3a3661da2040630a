"""One settings object that owns every path and port a run uses.

Everything a run writes lives under ``state_dir`` (``EDGE_INSIGHTS_STATE_DIR``, default ``var``);
real input is read from ``data_dir`` (``EDGE_INSIGHTS_DATA_DIR``, default ``../shared/data``).
Relative values resolve against the current working directory, which for ``make`` is the
repository root. Stages never invent their own paths: they ask this object.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STATE_ENV = "EDGE_INSIGHTS_STATE_DIR"
DATA_ENV = "EDGE_INSIGHTS_DATA_DIR"


@dataclass(frozen=True)
class Settings:
    """Resolved locations of state and input.

    Attributes:
        state_dir: absolute folder for everything a run writes (warehouse, Dagster instance,
            MLflow store, bundles, decision log, caches).
        data_dir: absolute folder holding the shared real data sets (read only).
    """

    state_dir: Path
    data_dir: Path

    @classmethod
    def from_env(cls) -> "Settings":
        """Build settings from the environment; paths are made absolute, nothing is created."""
        state = Path(os.environ.get(STATE_ENV, "var")).expanduser().resolve()
        data = Path(os.environ.get(DATA_ENV, "../shared/data")).expanduser().resolve()
        return cls(state_dir=state, data_dir=data)

    @property
    def warehouse_path(self) -> Path:
        """DuckDB file holding raw, scrubbed, validated, quarantined and historic signals."""
        return self.state_dir / "warehouse.duckdb"

    @property
    def dagster_home(self) -> Path:
        """Dagster instance folder (SQLite run/event storage) shared by the demo and ``make ui``."""
        return self.state_dir / "dagster"

    @property
    def mlflow_dir(self) -> Path:
        return self.state_dir / "mlflow"

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking URI: SQLite backend under the state folder."""
        return f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        return self.mlflow_dir / "artifacts"

    @property
    def bundles_dir(self) -> Path:
        return self.state_dir / "bundles"

    @property
    def models_dir(self) -> Path:
        return self.state_dir / "models"

    @property
    def deploy_dir(self) -> Path:
        """Bundles pushed to pods: ``deploy/<model>/<slot>/`` (slot = alias or ``central``)."""
        return self.state_dir / "deploy"

    @property
    def staging_dir(self) -> Path:
        """Raw intake awaiting PII scrubbing; deleted by the scrub step of the same run."""
        return self.state_dir / "staging"

    @property
    def inbox_dir(self) -> Path:
        """Drop folder for pushed signal batches (the webhook writes accepted batches here)."""
        return self.state_dir / "inbox"

    @property
    def decision_log_dir(self) -> Path:
        return self.state_dir / "decision_log"

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "cache"

    def ensure(self) -> "Settings":
        """Create the state folder tree and point third-party caches into it.

        Libraries (Hugging Face, MLflow, matplotlib, GX) otherwise write under ``$HOME``; a run
        must leave the user's home untouched.
        """
        for path in (self.state_dir, self.dagster_home, self.mlflow_dir, self.artifact_root,
                     self.bundles_dir, self.models_dir, self.deploy_dir,
                     self.staging_dir, self.inbox_dir, self.decision_log_dir,
                     self.cache_dir):
            path.mkdir(parents=True, exist_ok=True)
        instance_yaml = self.dagster_home / "dagster.yaml"
        if not instance_yaml.exists():
            # SQLite storage under the state folder is Dagster's default for DAGSTER_HOME; the file
            # only switches telemetry off (no network here) and silences the missing-file warning.
            instance_yaml.write_text("telemetry:\n  enabled: false\n")
        # Paths derived from the state folder follow it (a test may switch state folders).
        os.environ["HF_HOME"] = str(self.cache_dir / "huggingface")
        os.environ["MPLCONFIGDIR"] = str(self.cache_dir / "matplotlib")
        os.environ["DAGSTER_HOME"] = str(self.dagster_home)
        os.environ["MLFLOW_TRACKING_URI"] = self.tracking_uri
        os.environ["TLDEXTRACT_CACHE"] = str(self.cache_dir / "tldextract")
        for name, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                            ("GX_ANALYTICS_ENABLED", "false"), ("MLFLOW_ENABLE_TELEMETRY", "false"),
                            ("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false"),
                            ("DAGSTER_DISABLE_TELEMETRY", "1")):
            os.environ.setdefault(name, value)
        return self
