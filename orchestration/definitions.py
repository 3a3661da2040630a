"""Dagster ``Definitions`` for Edge Insights: ``dagster dev -m orchestration.definitions``.

This module and the command line are the only places that read the environment
(:meth:`commons.settings.Settings.from_env`): :func:`build_definitions` turns one
:class:`~commons.settings.Settings` into resources, and every asset, check, schedule and sensor
gets its paths and options from those resources.
"""

import dagster as dg

from commons.errors import OrchestrationError
from commons.revocation_list import default_list_path
from commons.settings import RELEASE_SIGNER_ENV, Settings
from live.store import store_path
from orchestration import checks
from orchestration.assets import backfill, feedback, harvest, live, pii_tagger, quality, replay, retention
from orchestration.assets.models import decision_assets
from orchestration.jobs import (
    backfill_job,
    feedback_job,
    harvest_job,
    insight_digest_job,
    main_job,
    replay_job,
    retention_job,
    retrain_job,
    revocation_refresh_job,
)
from orchestration.resources import (
    CrawlResource,
    DecisionLogResource,
    LiveStoreResource,
    MlflowResource,
    RevocationResource,
    StagingResource,
    TrainingResource,
    WarehouseResource,
)
from orchestration.schedules import (
    harvest_schedule,
    insight_digest_schedule,
    retention_schedule,
    revocation_refresh_schedule,
)
from orchestration.alias_sensor import champion_alias_sensor
from orchestration.erasure_sensor import erasure_sensor
from orchestration.sensors import drift_sensor
from training.config import PRESETS
from training.decisions import DECISIONS


def build_definitions(settings: Settings) -> dg.Definitions:
    """The whole asset graph, its checks, jobs, schedule, sensor and resources for ``settings``
    (state and data folders, training preset, crawl and review caps).

    Raises:
        OrchestrationError: the training preset is unknown (checked here: the jobs would
            otherwise fail only at their first training step).
    """
    if settings.preset not in PRESETS:
        raise OrchestrationError(f"unknown training preset {settings.preset!r} (EDGE_INSIGHTS_PRESET); "
                                 f"choose one of {', '.join(sorted(PRESETS))}")
    settings = settings.ensure()
    return dg.Definitions(
        assets=[*dg.load_assets_from_modules([harvest, backfill, replay, pii_tagger, quality, feedback,
                                              retention, live]),
                live.insights,
                *(asset for spec in DECISIONS.values() for asset in decision_assets(spec))],
        asset_checks=[*dg.load_asset_checks_from_modules([checks]), *live.insights_fresh],
        jobs=[main_job, harvest_job, retrain_job, feedback_job, backfill_job, replay_job, retention_job,
              insight_digest_job, revocation_refresh_job],
        schedules=[harvest_schedule, retention_schedule, insight_digest_schedule, revocation_refresh_schedule],
        sensors=[drift_sensor, erasure_sensor, champion_alias_sensor, live.insights_observer,
                 live.insights_freshness_sensor],
        # Steps run one after another in the run's process: on 2 cores a process per step would
        # re-import torch for every step and make training compete with itself.
        executor=dg.in_process_executor,
        resources={
            "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
            "mlflow": MlflowResource(tracking_uri=settings.tracking_uri, artifact_root=str(settings.artifact_root)),
            "crawl": CrawlResource(data_dir=str(settings.data_dir), crawls_dir=str(settings.crawls_dir),
                                   inbox_dir=str(settings.inbox_dir), logs_dir=str(settings.logs_dir),
                                   max_pages=settings.max_pages,
                                   max_reviews_per_file=settings.max_reviews),
            "staging": StagingResource(root=str(settings.staging_dir)),
            "training": TrainingResource(preset=settings.preset, models_dir=str(settings.models_dir),
                                         bundles_dir=str(settings.bundles_dir), deploy_dir=str(settings.deploy_dir),
                                         audit_dir=str(settings.audit_dir), signing_dir=str(settings.signing_dir),
                                         trust_dir=str(settings.trust_dir),
                                         pii_tagger_dir=str(settings.pii_tagger_dir),
                                         # Read at run time, never stored in run config (a URI may hold a PIN).
                                         release_signer=(dg.EnvVar(RELEASE_SIGNER_ENV) if settings.release_signer
                                                         else "")),
            "decision_log": DecisionLogResource(root=str(settings.decision_log_dir)),
            "live_store": LiveStoreResource(path=str(store_path(settings.state_dir))),
            "revocation": RevocationResource(list_path=str(default_list_path(settings.state_dir)),
                                             tokens_dir=str(settings.tokens_dir)),
            "pipes": dg.PipesSubprocessClient(),
        },
    )


defs = build_definitions(Settings.from_env())
