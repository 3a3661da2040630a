"""What a training stage records in its MLflow run: parameters, a loss curve, final metrics."""

from __future__ import annotations

from typing import Any

from mlflow import MlflowClient


def log_stage(client: MlflowClient, run_id: str, *, params: dict[str, Any] | None = None,
              losses: list[float] | None = None, loss_name: str = "train_loss",
              metrics: dict[str, float] | None = None) -> None:
    """Log one stage into ``run_id``: ``params`` once, ``losses`` as the step series ``loss_name``,
    ``metrics`` as final values (floats)."""
    for key, value in (params or {}).items():
        client.log_param(run_id, key, value)
    for step, loss in enumerate(losses or ()):
        client.log_metric(run_id, loss_name, float(loss), step=step)
    for key, value in (metrics or {}).items():
        client.log_metric(run_id, key, float(value))
