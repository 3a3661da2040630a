"""The pod's HTTP face: a Starlette app serving one deployed bundle.

Endpoints:
    ``POST /v1/decisions/{decision}``  body ``{"records": [{...}, ...]}`` →
        200 ``{"decisions": [{"decision", "label", "score", "route", "model_version",
        "bundle_sha256", "signal_digest", "latency_ms"}, ...]}`` in record order;
        404 for a decision this pod does not serve;
        422 ``{"error": str, "errors": [{"record", "field", "message"}, ...]}`` for malformed JSON,
        a body that is not ``{"records": [...]}``, an empty or oversized batch, or records that
        break the feature contract (every offending field of every record is listed).
        A record holds the contract's fields only: strings for text features, JSON numbers for
        ``number``/``integer`` and arrays of exactly ``length`` numbers for ``number_list``
        (e.g. ``{"title": "…", "prices": [1980, 2180, 2180, 1980, 1980, 2480]}``); NaN and
        Infinity are not JSON and are refused as malformed.
    ``GET /healthz``  → ``{"status": "ok", "decision", "model_version", "bundle_sha256", "alias"}``
    ``GET /metrics``  → Prometheus text (see :mod:`serving.metrics`).

``score`` is the answering model's probability of ``label``. ``latency_ms`` is per record: time
from the start of the batch's tokenisation until that record's answer was settled (edge answers
share the batch's inference time; central and fallback answers add the central round trip).
Parsing, validation and HTTP transport are outside it; ``request_latency_seconds`` covers the
whole request.
"""

from __future__ import annotations

import json
import time
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edge_export.manifest import BundleError

from .contract import FieldError, check_record
from .decision_log import DecisionLog, log_entry
from .inference import EdgeModel
from .metrics import PodMetrics
from .router import FALLBACK, Routed, Router

RELEASE_FILE = "release.json"


def load_release(deploy_dir: Path) -> dict[str, Any]:
    """Read ``release.json`` written by the pipeline when it pushed the alias.

    Returns:
        ``{"model_name", "model_version", "alias", "run_id", "deployed_at"}`` as written.

    Raises:
        BundleError: the file is missing, not JSON, or lacks ``model_version`` or ``alias``.
    """
    path = Path(deploy_dir) / RELEASE_FILE
    try:
        release = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise BundleError(f"no readable {RELEASE_FILE} in {deploy_dir}: {err}") from None
    if not isinstance(release, dict) or not {"model_version", "alias"} <= release.keys():
        raise BundleError(f"{RELEASE_FILE} in {deploy_dir} lacks model_version or alias")
    return release


def _refuse_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; they are not JSON and no contract range admits them.
    raise ValueError(f"{name} is not valid JSON")


def _records_of(body: Any, max_batch: int) -> tuple[list[Any], list[FieldError]]:
    """Take the ``records`` list out of a parsed body, or say why the body's shape is wrong."""
    if not isinstance(body, dict):
        return [], [FieldError(None, None, 'body must be an object {"records": [...]}')]
    errors = [FieldError(None, key, "unexpected top-level key") for key in body if key != "records"]
    records = body.get("records")
    if not isinstance(records, list):
        errors.append(FieldError(None, "records", "must be a list of records"))
    elif not records:
        errors.append(FieldError(None, "records", "batch is empty"))
    elif len(records) > max_batch:
        errors.append(FieldError(None, "records", f"batch of {len(records)} exceeds max_batch {max_batch}"))
    return (records if isinstance(records, list) else []), errors


def _unprocessable(message: str, errors: list[FieldError]) -> JSONResponse:
    return JSONResponse({"error": message, "errors": [e.to_dict() for e in errors]}, status_code=422)


def create_app(deploy_dir: Path, *, central_url: str | None = None, shadow_rate: float = 0.0,
               decision_log_dir: Path, threads: int = 1, max_batch: int = 256,
               central_timeout_s: float = 1.0) -> Starlette:
    """Build the ASGI app for one deployed bundle.

    Args:
        deploy_dir: the bundle files plus ``release.json``.
        central_url: base URL of the central pod consulted below the abstain threshold; None
            answers everything at the edge (this is how the central pod itself runs).
        shadow_rate: fraction (0–1) of edge-decided records also scored by central, logged only.
        decision_log_dir: root of the decision log (see :mod:`serving.decision_log`).
        threads: ONNX Runtime intra-op threads.
        max_batch: most records accepted in one request.
        central_timeout_s: seconds allowed for one central round trip.

    Raises:
        BundleError: the bundle fails verification, its feature contract cannot be enforced or
            does not match the manifest's ``text_fields``/``numeric_inputs`` and the graph's
            inputs, or ``release.json`` is missing or incomplete — the pod must not start.
        ValueError: ``shadow_rate`` is invalid (see :class:`serving.router.Router`).
    """
    model = EdgeModel(deploy_dir, threads=threads)
    # EdgeModel has checked the contract against the manifest's inputs and the graph.
    contract = model.manifest["feature_contract"]
    release = load_release(deploy_dir)
    router = Router(model, model_version=str(release["model_version"]), central_url=central_url,
                    shadow_rate=shadow_rate, timeout_s=central_timeout_s)
    log = DecisionLog(decision_log_dir)
    metrics = PodMetrics()
    decision = model.decision

    def record_decisions(records: list[dict[str, Any]], routed: list[Routed], at: datetime) -> None:
        log.append([log_entry(r, decision, rec.get("product_id"), at) for rec, r in zip(records, routed)])
        for r in routed:
            metrics.decisions.labels(decision, r.route, r.label).inc()

    def settle_shadow(records: list[dict[str, Any]], routed: list[Routed], at: datetime) -> None:
        scored = router.score_shadow(records, routed)
        if any(r.central_error for r in scored):
            metrics.central_errors.labels(decision).inc()
        for r in scored:
            if r.central_label is not None:
                metrics.shadow.labels(decision, str(r.central_label == r.edge_label).lower()).inc()
        record_decisions(records, scored, at)

    async def decide(request: Request) -> Response:
        if request.path_params["decision"] != decision:
            metrics.rejected.labels("unknown_decision").inc()
            return JSONResponse({"error": f"this pod serves {decision!r} only"}, status_code=404)
        start = time.perf_counter()
        try:
            body = json.loads(await request.body(), parse_constant=_refuse_constant)
        except ValueError as err:
            metrics.rejected.labels("malformed_json").inc()
            return _unprocessable("malformed JSON", [FieldError(None, None, str(err))])
        records, errors = _records_of(body, max_batch)
        if errors:
            metrics.rejected.labels("invalid_batch").inc()
            return _unprocessable("invalid batch", errors)
        errors = [e for i, rec in enumerate(records) for e in check_record(rec, contract, i)]
        if errors:
            metrics.rejected.labels("contract").inc()
            return _unprocessable("records break the feature contract", errors)

        at = datetime.now(timezone.utc)
        routed = await run_in_threadpool(router.decide, records)
        if any(r.route == FALLBACK for r in routed):
            metrics.central_errors.labels(decision).inc()
        # Shadow decisions are logged once central has scored them, after the answer is sent,
        # so shadow sampling never adds latency to the hot path.
        shadow = [i for i, r in enumerate(routed) if r.shadow]
        settled = [i for i, r in enumerate(routed) if not r.shadow]
        await run_in_threadpool(record_decisions, [records[i] for i in settled],
                                [routed[i] for i in settled], at)
        background = (BackgroundTask(settle_shadow, [records[i] for i in shadow],
                                     [routed[i] for i in shadow], at) if shadow else None)
        metrics.latency.labels(decision).observe(time.perf_counter() - start)
        return JSONResponse({"decisions": [r.response(decision) for r in routed]}, background=background)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "decision": decision,
                             "model_version": router.model_version,
                             "bundle_sha256": model.bundle_sha256, "alias": release["alias"]})

    async def prometheus(request: Request) -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        router.close()

    return Starlette(routes=[Route("/v1/decisions/{decision}", decide, methods=["POST"]),
                             Route("/healthz", healthz, methods=["GET"]),
                             Route("/metrics", prometheus, methods=["GET"])],
                     lifespan=lifespan)
