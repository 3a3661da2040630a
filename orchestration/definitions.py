"""Dagster ``Definitions`` for Edge Insights: ``dagster dev -m orchestration.definitions``.

Resources are built from :class:`edge_insights.settings.Settings` (state and data folders) and the
run size: ``EDGE_INSIGHTS_PRESET`` (training preset, default ``demo``), ``EDGE_INSIGHTS_MAX_PAGES``
(crawl request cap, 0 = none), ``EDGE_INSIGHTS_MAX_REVIEWS`` (rows per review file, 0 = all), read
once here, so assets never test for the environment themselves.
"""


import os

import dagster as dg

from edge_insights.settings import Settings
from orchestration import checks
from orchestration.assets import backfill, feedback, harvest, quality, replay
from orchestration.assets.models import model_assets
from orchestration.assets.release import release_assets
from orchestration.jobs import backfill_job, feedback_job, harvest_job, main_job, replay_job, retrain_job
from orchestration.resources import CrawlResource, MlflowResource, TrainingResource, WarehouseResource
from orchestration.schedules import harvest_schedule
from orchestration.sensors import divergence_sensor
from training.decisions import DECISIONS


def build_definitions(settings: Settings | None = None, *, preset: str | None = None,
                      max_pages: int | None = None, max_reviews: int | None = None) -> dg.Definitions:
    """The whole asset graph, its checks, jobs, schedule, sensor and resources.

    Arguments left None take their environment value (see the module docstring).
    """
    settings = (settings or Settings.from_env()).ensure()
    preset = preset or os.environ.get("EDGE_INSIGHTS_PRESET", "demo")
    max_pages = int(os.environ.get("EDGE_INSIGHTS_MAX_PAGES", "0")) if max_pages is None else max_pages
    max_reviews = int(os.environ.get("EDGE_INSIGHTS_MAX_REVIEWS", "0")) if max_reviews is None else max_reviews
    return dg.Definitions(
        assets=[*dg.load_assets_from_modules([harvest, backfill, replay, quality, feedback]),
                *(asset for spec in DECISIONS.values()
                  for asset in (*model_assets(spec), *release_assets(spec)))],
        asset_checks=dg.load_asset_checks_from_modules([checks]),
        jobs=[main_job, harvest_job, retrain_job, feedback_job, backfill_job, replay_job],
        schedules=[harvest_schedule],
        sensors=[divergence_sensor],
        resources={
            "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
            "mlflow": MlflowResource(tracking_uri=settings.tracking_uri,
                                     artifact_root=str(settings.artifact_root)),
            "crawl": CrawlResource(
                mirror_dir=str(settings.data_dir / "books_toscrape" / "site"),
                reviews_dir=str(settings.data_dir / "reviews"),
                price_history_path=str(settings.data_dir / "price_history_amazon_jp" / "observations.csv.gz"),
                price_products_path=str(settings.data_dir / "price_history_amazon_jp" / "products.csv"),
                max_pages=max_pages, max_reviews_per_file=max_reviews),
            "training": TrainingResource(
                preset=preset,
                models_dir=str(settings.models_dir), bundles_dir=str(settings.bundles_dir),
                deploy_dir=str(settings.deploy_dir)),
            "pipes": dg.PipesSubprocessClient(),
        },
    )


defs = build_definitions()
