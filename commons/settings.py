"""One settings object that owns every path and run-size option a run uses.

Everything a run writes lives under ``state_dir`` (``EDGE_INSIGHTS_STATE_DIR``, default ``var``);
real input is read from ``data_dir`` (``EDGE_INSIGHTS_DATA_DIR``, default ``../shared/data``).
Relative values resolve against the current working directory, which for ``make`` is the
repository root. The run size of jobs launched from the UI comes from ``EDGE_INSIGHTS_PRESET``
(training preset, default ``demo``), ``EDGE_INSIGHTS_MAX_PAGES`` (crawl request cap, 0 = none) and
``EDGE_INSIGHTS_MAX_REVIEWS`` (rows per review file, 0 = all). The live loop's broker comes from
``EDGE_INSIGHTS_BROKER`` (unset: the embedded SQLite store; ``redis://…`` for scale-out) and the
pods' bearer token from ``EDGE_INSIGHTS_POD_TOKEN``. ``EDGE_INSIGHTS_REGION`` says where the state
folder (the central store) is kept (unset: the privacy policy's ``central_region``). The release
signing key comes from ``EDGE_INSIGHTS_RELEASE_SIGNER`` (a PKCS#11 URI, RFC 7512, or a PEM path;
unset: a SoftHSM token under the state folder) and the public keys pods trust from
``EDGE_INSIGHTS_RELEASE_TRUST``. The token-issuing and audit keys are made where
``EDGE_INSIGHTS_SIGNING_KEYS`` says (the PKCS#11 URI of a token, or ``pem``; unset: the same
SoftHSM token, else PEM files).

Only the command line and ``orchestration.definitions`` call :meth:`Settings.from_env`; every
other part is handed the paths it needs. Stages never invent their own paths.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from commons.errors import EdgeInsightsError
from commons.privacy_policy import load_policy
from commons.residency import ensure_central_residency

STATE_ENV = "EDGE_INSIGHTS_STATE_DIR"
DATA_ENV = "EDGE_INSIGHTS_DATA_DIR"
PRESET_ENV = "EDGE_INSIGHTS_PRESET"
MAX_PAGES_ENV = "EDGE_INSIGHTS_MAX_PAGES"
MAX_REVIEWS_ENV = "EDGE_INSIGHTS_MAX_REVIEWS"
BROKER_ENV = "EDGE_INSIGHTS_BROKER"
POD_TOKEN_ENV = "EDGE_INSIGHTS_POD_TOKEN"
REGION_ENV = "EDGE_INSIGHTS_REGION"
RELEASE_SIGNER_ENV = "EDGE_INSIGHTS_RELEASE_SIGNER"
RELEASE_TRUST_ENV = "EDGE_INSIGHTS_RELEASE_TRUST"
SIGNING_KEYS_ENV = "EDGE_INSIGHTS_SIGNING_KEYS"
#: Not a setting: :meth:`Settings.ensure` points it at the state folder's ``pii_tagger`` folder, so
#: every scrub path of the process (and of its workers) finds the name tagger the pipeline built.
PII_TAGGER_ENV = "EDGE_INSIGHTS_PII_TAGGER_DIR"
#: URL schemes of a Redis broker (redis-py's ``Redis.from_url``: TCP, TLS, a Unix socket).
BROKER_SCHEMES = ("redis://", "rediss://", "unix://")


class SettingsError(EdgeInsightsError):
    """An environment variable holds a value the settings cannot use."""


def _text(name: str, default: str) -> str:
    value = os.environ.get(name)
    if value is None:
        return default
    if not value.strip():
        raise SettingsError(f"{name} is set but empty; unset it for the default "
                            f"({default or 'none: the policy decides'})")
    return value


def _count(name: str) -> int:
    value = _text(name, "0")
    if not value.strip().isdigit():
        raise SettingsError(f"{name} must be an integer ≥ 0, got {value!r}")
    return int(value)


def _broker() -> str | None:
    value = os.environ.get(BROKER_ENV)
    if value is None:
        return None
    if not value.startswith(BROKER_SCHEMES):
        raise SettingsError(f"{BROKER_ENV} must be a Redis URL ({', '.join(BROKER_SCHEMES)}…), got {value!r}; "
                            "unset it for the embedded SQLite store")
    return value


def _signing_keys() -> str | None:
    value = os.environ.get(SIGNING_KEYS_ENV) or None
    if value is not None and value != "pem" and not value.startswith("pkcs11:"):  # commons.pkcs11_uri.SCHEME
        raise SettingsError(f"{SIGNING_KEYS_ENV} must be the PKCS#11 URI of a token (pkcs11:token=…) or pem; "
                            "unset it for the SoftHSM token under the state folder")
    return value


# Third-party switches set in every process of ours (unless the user set them) before a library
# reads them: no calls home (there is no network here) and nothing written under $HOME.
LIBRARY_OPT_OUTS = (
    ("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("GX_ANALYTICS_ENABLED", "false"),
    ("DAGSTER_DISABLE_TELEMETRY", "1"), ("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false"),
    # MLflow 3 otherwise writes an installation id to ~/.config/mlflow/telemetry.json.
    ("MLFLOW_DISABLE_TELEMETRY", "true"),
    # onnxruntime's Linux build otherwise keeps a device id and an event database under
    # ~/.cache/Microsoft/DeveloperTools/.onnxruntime, in every process that opens a session.
    ("ORT_DISABLE_TELEMETRY", "1"),
)


def apply_library_opt_outs() -> None:
    """Set :data:`LIBRARY_OPT_OUTS` in ``os.environ`` where unset; children inherit them."""
    for name, value in LIBRARY_OPT_OUTS:
        os.environ.setdefault(name, value)


def live_store_file(state_dir: Path) -> Path:
    """The live loop's store under a state folder: ``<state>/live/live.sqlite``."""
    return Path(state_dir) / "live" / "live.sqlite"


@dataclass(frozen=True)
class Settings:
    """Resolved locations of state and input.

    Attributes:
        state_dir: absolute folder for everything a run writes (warehouse, Dagster instance,
            MLflow store, bundles, decision log, caches).
        data_dir: absolute folder holding the shared real data sets (read only).
        preset: training preset (``tiny``, ``demo``, ``full``; training.config).
        max_pages: crawl request cap, 0 = none.
        max_reviews: rows read per review file, 0 = all.
        broker: the live loop's change and insight streams: None for the embedded SQLite store
            under the state folder, or a Redis URL (``redis://host:port/db``) for several watcher
            and decider processes sharing them (kept out of ``repr``: it may hold a password).
        pod_token: bearer token the live loop sends to the pods, or None (kept out of ``repr``).
        region: the region the state folder is kept in, or None for the privacy policy's
            ``central_region``; :meth:`ensure` refuses a region that some store may not be kept in.
        release_signer: the key the release step signs bundles with: a PKCS#11 URI (RFC 7512;
            its ``pin-value`` is why it stays out of ``repr``) or a PEM path; None for the SoftHSM
            token under :attr:`signing_dir` (:mod:`edge_export.signer`).
        release_trust_dir: folder of the release public keys (``*.pub``, PEM) pods verify
            bundle signatures with; None for ``<signing_dir>/trusted``.
        signing_keys: where new token-issuing and audit keys are made: the PKCS#11 URI of a token
            (``pkcs11:token=…?module-path=…&pin-source=file:…``; kept out of ``repr``, it may carry
            ``pin-value``) or ``pem``; None for the SoftHSM token under :attr:`signing_dir` when
            SoftHSM2 is installed, else PEM files (:mod:`commons.key_store`).
    """

    state_dir: Path
    data_dir: Path
    preset: str = "demo"
    max_pages: int = 0
    max_reviews: int = 0
    # Both may carry a secret (a Redis URL its password), so neither is shown by repr.
    broker: str | None = field(default=None, repr=False)
    pod_token: str | None = field(default=None, repr=False)
    region: str | None = None
    release_signer: str | None = field(default=None, repr=False)
    release_trust_dir: Path | None = None
    signing_keys: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        """Build settings from the environment, then apply ``overrides`` (field → value, e.g. a
        command-line option); paths are made absolute, nothing is created.

        Raises:
            SettingsError: a variable is set but empty, a cap is not an integer ≥ 0, the broker is
                not a Redis URL, or the state folder exists as a file or lies under one.
        """
        values = {
            "state_dir": Path(_text(STATE_ENV, "var")).expanduser().resolve(),
            "data_dir": Path(_text(DATA_ENV, "../shared/data")).expanduser().resolve(),
            "preset": _text(PRESET_ENV, "demo"),
            "max_pages": _count(MAX_PAGES_ENV),
            "max_reviews": _count(MAX_REVIEWS_ENV),
            "broker": _broker(),
            "pod_token": os.environ.get(POD_TOKEN_ENV) or None,
            "region": _text(REGION_ENV, "") or None,
            "release_signer": os.environ.get(RELEASE_SIGNER_ENV) or None,
            "release_trust_dir": (Path(os.environ[RELEASE_TRUST_ENV]).expanduser().resolve()
                                  if os.environ.get(RELEASE_TRUST_ENV) else None),
            "signing_keys": _signing_keys(),
        }
        for key, value in overrides.items():
            if key in ("state_dir", "data_dir", "release_trust_dir") and value is not None:
                value = Path(value).expanduser().resolve()
            values[key] = value
        state_dir = values["state_dir"]
        # The nearest part of the path that exists must be a folder, or nothing can be kept there;
        # caught here, before a command imports torch, which makes its cache folder inside it.
        existing = next(path for path in (state_dir, *state_dir.parents) if path.exists())
        if not existing.is_dir():
            where = "names a file" if existing == state_dir else f"lies under a file ({existing})"
            raise SettingsError(f"{STATE_ENV} {where}, not a folder: {state_dir}")
        return cls(**values)

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
    def tracking_db(self) -> Path:
        """The MLflow SQLite database (tracking and registry)."""
        return self.mlflow_dir / "mlflow.db"

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking URI: SQLite backend under the state folder."""
        return f"sqlite:///{self.tracking_db}"

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
    def pii_tagger_dir(self) -> Path:
        """The learned PII name tagger the pipeline builds (``pii_name_tagger`` asset)."""
        return self.state_dir / "pii_tagger"

    @property
    def deploy_dir(self) -> Path:
        """Bundles pushed to pods: ``deploy/<model>/<slot>/`` (slot = alias or ``central``)."""
        return self.state_dir / "deploy"

    @property
    def staging_dir(self) -> Path:
        """Raw intake awaiting PII scrubbing; deleted by the scrub step of the same run."""
        return self.state_dir / "staging"

    @property
    def live_store_path(self) -> Path:
        """The live loop's SQLite store (its change and insight streams, the feed's memory)."""
        return live_store_file(self.state_dir)

    @property
    def inbox_dir(self) -> Path:
        """Drop folder for pushed signal batches (the webhook writes accepted batches here)."""
        return self.state_dir / "inbox"

    @property
    def decision_log_dir(self) -> Path:
        return self.state_dir / "decision_log"

    @property
    def tokens_dir(self) -> Path:
        """Token signing keys (``keys/*.pem``, mode 0600) and the JWKS pods verify with
        (``jwks.json``); see :mod:`commons.token_keys`."""
        return self.state_dir / "tokens"

    @property
    def audit_dir(self) -> Path:
        """The control plane's chained audit log (``control.jsonl``) and the audit signing keys
        (``keys/*.pem``, ``jwks.json``) that sign its and the pods' log checkpoints; see
        :mod:`commons.control_audit`."""
        return self.state_dir / "audit"

    @property
    def signing_dir(self) -> Path:
        """The release signing key when it is local: the SoftHSM token (``softhsm2.conf``,
        ``tokens/``, ``pin``) or the PEM fallback, and ``trusted/``, the release public keys."""
        return self.state_dir / "signing"

    @property
    def trust_dir(self) -> Path:
        """Release public keys pods verify bundle signatures with (:mod:`commons.bundle_signature`)."""
        return self.release_trust_dir or self.signing_dir / "trusted"

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "cache"

    @property
    def crawls_dir(self) -> Path:
        """Per-crawl ``stats.json`` and Scrapy log: ``crawls/<partition>/``."""
        return self.state_dir / "crawls"

    @property
    def logs_dir(self) -> Path:
        """Logs of the processes the command line starts (pods, UI servers)."""
        return self.state_dir / "logs"

    def environment(self) -> dict[str, str]:
        """These settings as the environment variables :meth:`from_env` reads (plus
        ``DAGSTER_HOME``), for child processes that must see the same state, run size and broker.
        The pod token is left out: a secret is not copied into other processes' settings."""
        env = {STATE_ENV: str(self.state_dir), DATA_ENV: str(self.data_dir), PRESET_ENV: self.preset,
               MAX_PAGES_ENV: str(self.max_pages), MAX_REVIEWS_ENV: str(self.max_reviews),
               "DAGSTER_HOME": str(self.dagster_home)}
        if self.broker is not None:
            env[BROKER_ENV] = self.broker
        if self.region is not None:
            env[REGION_ENV] = self.region
        if self.release_trust_dir is not None:
            env[RELEASE_TRUST_ENV] = str(self.release_trust_dir)
        if self.signing_keys is not None:
            env[SIGNING_KEYS_ENV] = self.signing_keys
        return env

    def point_torch_cache(self) -> None:
        """Point torch's compiler cache into ``<state>/cache/torchinductor``: importing torch (spaCy's
        thinc does, for the scrubber) makes ``$TMPDIR/torchinductor_<user>`` otherwise, outside the
        state folder."""
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(self.cache_dir / "torchinductor")

    def ensure(self) -> "Settings":
        """Check the state folder's region against the privacy policy, then create the state
        folder tree and point third-party caches into it.

        Libraries (Hugging Face, MLflow, matplotlib, GX) otherwise write under ``$HOME``; a run
        must leave the user's home untouched.

        Raises:
            ResidencyViolation: ``region`` is one some store of the policy may not be kept in
                (nothing is created then).
        """
        ensure_central_residency(load_policy(), self.region)
        for path in (self.state_dir, self.dagster_home, self.mlflow_dir, self.artifact_root,
                     self.bundles_dir, self.models_dir, self.deploy_dir,
                     self.staging_dir, self.inbox_dir, self.decision_log_dir,
                     self.cache_dir, self.crawls_dir, self.logs_dir):
            path.mkdir(parents=True, exist_ok=True)
        # SQLite storage under the state folder is Dagster's default for DAGSTER_HOME. Runs start
        # as soon as they are launched (no queue, so no daemon is needed for the demo's or the UI's
        # launches); telemetry is off (no network here).
        (self.dagster_home / "dagster.yaml").write_text(
            "telemetry:\n  enabled: false\n"
            "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: DefaultRunCoordinator\n")
        # Paths derived from the state folder follow it (a test may switch state folders).
        os.environ["HF_HOME"] = str(self.cache_dir / "huggingface")
        os.environ["MPLCONFIGDIR"] = str(self.cache_dir / "matplotlib")
        self.point_torch_cache()
        os.environ["DAGSTER_HOME"] = str(self.dagster_home)
        os.environ["MLFLOW_TRACKING_URI"] = self.tracking_uri
        os.environ["TLDEXTRACT_CACHE"] = str(self.cache_dir / "tldextract")
        os.environ[PII_TAGGER_ENV] = str(self.pii_tagger_dir)
        apply_library_opt_outs()
        return self
