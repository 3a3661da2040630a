"""An edge bundle as an MLflow model: a pyfunc that scores records with the pod's own inference
code (:class:`serving.inference.EdgeModel`), so ``mlflow.pyfunc.load_model("models:/D@champion")``
decides exactly as a pod does. The registry version carries its signature (the feature contract
as columns), an input example and the model card as its description. Loading verifies the bundle's
release signature and file hashes against the trusted release keys of the loader's settings
(``EDGE_INSIGHTS_RELEASE_TRUST``, else the state folder's ``signing/trusted``), and refuses a
bundle the state folder's published revocation list withdraws, as a pod does.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, Schema
from mlflow.types.schema import Array

MODEL_NAME = "edge_model"
BUNDLE_ARTIFACT = "bundle"
# Contract type → MLflow column type (number_list: an array of doubles per record).
_COLUMN_TYPES = {"string": DataType.string, "number": DataType.double, "integer": DataType.long,
                 "number_list": Array(DataType.double)}


class EdgeBundleModel(mlflow.pyfunc.PythonModel):
    """pyfunc over one bundle folder; ``predict`` takes a frame of contract records and returns per
    row ``label`` (str), ``score`` (the calibrated probability of that label, float) and
    ``abstain`` (bool): the score is below the bundle's ``thresholds.abstain``, where a pod with a
    central model would ask it (route ``central``, :mod:`serving.router`) instead of answering."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        """Open the bundle artifact once its release signature verifies and the state folder's
        published revocation list spares it, as a pod checks before it answers.

        Raises:
            commons.bundle_signature.BundleRefused: unsigned, unknown key, tampered or expired;
                :class:`commons.revocation_list.BundleRevoked` (reason ``revoked``) when the list
                withdraws the bundle or its release key, or does not verify.
        """
        from commons.bundle_signature import verify_bundle
        from commons.revocation_list import check_not_revoked
        from commons.settings import Settings
        from serving.inference import EdgeModel

        bundle, settings = Path(context.artifacts[BUNDLE_ARTIFACT]), Settings.from_env()
        check_not_revoked(verify_bundle(bundle, settings.trust_dir), settings)
        self.model = EdgeModel(bundle)
        self.abstain = float(self.model.manifest["thresholds"]["abstain"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        inputs = self.model.inputs
        rows = [inputs.features({k: v for k, v in record.items() if _present(v)})
                for record in model_input.to_dict("records")]
        numeric = np.array([inputs.numeric_row(r) for r in rows], dtype=np.float32) if inputs.numeric_width else None
        labels, probs = self.model.predict([inputs.text(r) for r in rows], numeric)
        scores = probs.max(axis=1).astype(float)
        return pd.DataFrame({"label": labels, "score": scores, "abstain": scores < self.abstain})


def _present(value: Any) -> bool:
    # A frame fills a field some records lack with None or NaN (NaN != NaN); lists are values.
    return isinstance(value, (list, np.ndarray)) or (value is not None and value == value)


def signature(contract: dict[str, Any]) -> ModelSignature:
    """The contract's fields as input columns (optional ones may be absent); label, score and
    abstain out."""
    columns = [ColSpec(_COLUMN_TYPES[spec["type"]], name, required=bool(spec["required"]))
               for name, spec in contract["fields"].items()]
    return ModelSignature(inputs=Schema(columns),
                          outputs=Schema([ColSpec(DataType.string, "label"), ColSpec(DataType.double, "score"),
                                          ColSpec(DataType.boolean, "abstain")]))


def log_bundle_model(tracking_uri: str, run_id: str, bundle_dir: Path, contract: dict[str, Any],
                     input_example: dict[str, Any]):
    """Log ``bundle_dir`` as the pyfunc model ``edge_model`` of MLflow run ``run_id``.

    Returns:
        ``mlflow.models.model.ModelInfo`` (``model_uri``, ``model_id``) to register.
    """
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(run_id=run_id):
        return mlflow.pyfunc.log_model(
            name=MODEL_NAME, python_model=EdgeBundleModel(), artifacts={BUNDLE_ARTIFACT: str(bundle_dir)},
            signature=signature(contract), input_example=pd.DataFrame(input_example["records"]),
            # Stated, not inferred (inference would import and run the model in a fresh env), and pinned
            # to the version that logged it: its inference code is what decided at registration.
            pip_requirements=[f"edge-insights[serving]=={version('edge-insights')}"])
