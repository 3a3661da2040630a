"""The pod's HTTP face: a Starlette app serving one deployed bundle.

Endpoints:
    ``POST /v1/decisions/{decision}``  body ``{"records": [{...}, ...]}`` →
        200 ``{"decisions": [{"decision", "label", "score", "route", "model_version",
        "bundle_sha256", "signal_digest", "latency_ms"}, ...]}`` in record order;
        404 ``{"error": str}`` for a decision this pod does not serve;
        403 ``{"error": str}`` for ``Edge-Insights-Traffic: replay`` on a pod without tokens, 422
        for an unknown or repeated class (the header: below);
        415 ``{"error": str}`` unless ``Content-Type`` is ``application/json`` (UTF-8) and the body
        is sent as is (a ``Content-Encoding`` other than ``identity`` is not decoded here);
        413 ``{"error": str}`` for a body over ``max_body_bytes`` (by its ``Content-Length``, or
        counted as it streams, so an oversize body is never held whole);
        451 ``{"error": str, "errors": [...]}`` on a pod started with a region, for records holding
        a field the privacy policy does not allow there (:mod:`commons.residency`);
        422 ``{"error": str, "errors": [{"record", "field", "message"}, ...]}`` for malformed JSON
        (nesting deeper than the parser goes included), a body that is not
        ``{"records": [...]}``, an empty or oversized batch, or records that break the feature
        contract (every offending field of every record is listed; invalid unicode and blank
        required text included, see :mod:`serving.contract`).
        A record holds the contract's fields only: strings for text features, JSON numbers for
        ``number``/``integer`` and arrays of exactly ``length`` numbers for ``number_list``
        (e.g. ``{"title": "…", "prices": [1980, 2180, 2180, 1980, 1980, 2480]}``); NaN and
        Infinity are not JSON and are refused as malformed.
        Optional header ``Edge-Insights-Traffic: production | replay`` (default ``production``): the
        records' traffic class, logged with each decision (:mod:`commons.traffic`); ``replay``
        needs a token granting scope ``replay`` beside ``decide`` (403 ``insufficient_scope``
        otherwise).
    ``GET /healthz``  → ``{"status": "ok", "decision", "model_version", "bundle_sha256", "alias",
        "signed_by", "role", "oracle", "central_only", "revocation_serial"}``; ``signed_by`` is the
        release key id the served bundle's signature verified under (what ``edge-insights
        revoke-key`` takes to withdraw every bundle that key signed); ``role`` is the manifest's
        (``"edge"`` or ``"central"``, ``"edge"`` when the manifest names none), ``oracle`` the kind
        of the decision's central oracle (``"model"`` or ``"rule"``).
    ``GET /metrics``  → Prometheus text (see :mod:`serving.metrics`).
    ``POST /admin/revocation``  body: the revocation list's compact JWS (a push; the pod also
        polls it) → 200 ``{"serial", "bundle_sha256", "central_only"}`` once obeyed, 422
        ``{"error", "reason"}`` when refused (unsigned, bad signature, unknown key, stale), 409
        for a rolled-back serial, 404 on a pod started without a watch. Needs scope ``admin``
        when tokens are required.

With a watch (``watch``, see :mod:`serving.hot_swap`) the pod swaps live to a newly deployed
bundle and away from a revoked one; each request is answered wholly by the bundle it started
with. In central-only routing (bundle revoked, none other held) ``/healthz`` names no bundle
(``bundle_sha256`` and ``model_version`` null, ``central_only`` true) and decisions come from
the central pod (503 when there is none or it fails). ``GET /readyz`` (open, like ``/healthz``)
is the readiness probe: 200 ``{"ready": true}`` while the pod can answer, 503 ``{"ready": false,
"reason"}`` in central-only routing with no central pod; ``/healthz`` stays the liveness probe.

With a JWKS (``auth``, see :mod:`serving.auth`) every decision request needs ``Authorization:
Bearer <token>`` for this pod's decision (``aud``) with scope ``decide``, and ``/metrics`` one with
scope ``metrics``; a refusal is 401 (no, malformed, forged or expired token) or 403 (another
audience, scope missing) with an RFC 6750 ``WWW-Authenticate`` challenge, before the body is read.
``/healthz`` stays open (load balancers and the edge pod's central check read it). Without a JWKS
every endpoint is open, as it was, and the pod says so in a warning at start.

``score`` is the answering model's probability of ``label``. ``latency_ms`` is per record: time
from the start of the batch's tokenisation until that record's answer was settled (edge answers
share the batch's inference time; central and fallback answers add the central round trip).
Parsing, validation and HTTP transport are outside it; ``request_latency_seconds`` covers the
whole request.
"""

from __future__ import annotations

import json
import logging
import re
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

from commons.http import (
    BearerRefusal,
    BodyTimeout,
    BodyTooLarge,
    NotServed,
    Unprocessable,
    UnsupportedMediaType,
    error_response,
    read_body,
)
from commons.chain_writer import DEFAULT_CHECKPOINT_EVERY
from commons.json_keys import refuse_duplicate_keys
from commons.manifest import MANIFEST_NAME, BundleError, oracle_kind
from commons.privacy_policy import Policy, load_policy
from commons.residency import ResidencyRefused, check_contract_region, check_region, forbidden_fields
from commons.token_client import TokenSource
from commons.token_keys import SigningKey
from commons.revocation_list import RevocationListError
from commons.tokens import SCOPE_ADMIN, SCOPE_DECIDE, SCOPE_METRICS, SCOPE_REPLAY
from commons.traffic import REPLAY, TRAFFIC_HEADER, ReplayRefused, requested_traffic

from .auth import PodAuth, TokenVerifier
from .bundle_model import BundleModel, open_bundle
from .contract import FieldError, check_record
from .decision_log import DecisionLog, log_entry
from .hot_swap import LiveBundle, NoBundle, Poller, Served
from .metrics import PodMetrics
from .revocation import MAX_LIST_BYTES, RevocationWatch, WatchSettings
from .router import EDGE, FALLBACK, ROLES, Routed, Router

RELEASE_FILE = "release.json"
RELEASE_VERSION = re.compile(r"[1-9][0-9]{0,11}")
RELEASE_ALIAS = re.compile(r"[A-Za-z0-9_-]{1,64}")
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
"""Largest request body a pod reads: a full batch of long reviews fits with room to spare."""
JSON_MEDIA_TYPE = "application/json"

logger = logging.getLogger(__name__)


def load_release(deploy_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Read ``release.json`` written by the pipeline when it pushed the alias.

    Args:
        deploy_dir: the deploy folder.
        manifest: the verified manifest of the bundle beside it.

    Returns:
        ``{"model_name", "model_version", "alias", "run_id", "deployed_at"}`` as written.

    Raises:
        BundleError: the file is missing, not JSON, lacks ``model_name``, ``model_version`` or
            ``alias``, holds a version or alias the registry could not have written, or names a model other than the bundle's (its ``model_name`` must be the
            manifest's ``model_name`` or ``decision``: the registry names models after their
            decision), so a release pushed beside the wrong bundle never serves.
    """
    path = Path(deploy_dir) / RELEASE_FILE
    try:
        release = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise BundleError(f"no readable {RELEASE_FILE} in {deploy_dir}: {err}") from None
    if not isinstance(release, dict) or not {"model_name", "model_version", "alias"} <= release.keys():
        raise BundleError(f"{RELEASE_FILE} in {deploy_dir} lacks model_name, model_version or alias")
    version, alias = release["model_version"], release["alias"]
    # Outside the bundle's signature, yet echoed in every answer and decision log line: only what the
    # registry can write passes (MLflow versions are whole numbers from 1, aliases ``[\w-]+``).
    if not (isinstance(version, int) and not isinstance(version, bool) and 1 <= version < 10**12
            or isinstance(version, str) and RELEASE_VERSION.fullmatch(version)):
        raise BundleError(f"{RELEASE_FILE} in {deploy_dir}: model_version {str(version)[:40]!r} is not a "
                          "registry version (a whole number from 1)")
    if not (isinstance(alias, str) and RELEASE_ALIAS.fullmatch(alias)):
        raise BundleError(f"{RELEASE_FILE} in {deploy_dir}: alias {str(alias)[:40]!r} is not a registry alias "
                          "(letters, digits, _ and -, at most 64)")
    bundle_names = {manifest.get("model_name"), manifest["decision"]}
    if release["model_name"] not in bundle_names:
        raise BundleError(f"{RELEASE_FILE} in {deploy_dir} releases model {release['model_name']!r}, "
                          f"but the bundle is {manifest.get('model_name')!r} deciding "
                          f"{manifest['decision']!r}")
    return release


def load_model(deploy_dir: Path, threads: int, trust_dir: Path) -> BundleModel:
    """The deploy folder's verified model (:func:`serving.bundle_model.open_bundle`), every
    failure to read it a refusal.

    Raises:
        BundleError: as the model class, and also when ``manifest.json`` is not UTF-8 JSON or a
            bundle file cannot be read (:mod:`commons.manifest` lets those through raw).
    """
    try:
        return open_bundle(deploy_dir, trust_dir=trust_dir, threads=threads)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BundleError(f"{MANIFEST_NAME} in {deploy_dir} is not valid JSON: {err}") from None
    except OSError as err:
        raise BundleError(f"bundle in {deploy_dir} cannot be read: {err}") from None


def _media_type_error(content_type: str) -> str | None:
    """Why a ``Content-Type`` is not JSON in UTF-8, or None when it is."""
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    if media != JSON_MEDIA_TYPE:
        return f"Content-Type must be {JSON_MEDIA_TYPE}, got {media or 'none'!r}"
    for param in params.split(";"):
        name, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            return f"{JSON_MEDIA_TYPE} must be UTF-8, got charset {charset!r}"
    return None


def _encoding_error(content_encoding: str) -> str | None:
    """Why a ``Content-Encoding`` is one the pod does not decode (it reads bodies as sent), or None."""
    coding = content_encoding.strip().lower()
    if coding in ("", "identity"):
        return None
    return f"Content-Encoding {coding[:40]!r} is not accepted; send the JSON body uncompressed"


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
    return error_response(Unprocessable(message), errors=[e.to_dict() for e in errors])


def create_app(deploy_dir: Path, *, trust_dir: Path, central_url: str | None = None, shadow_rate: float = 0.0,
               decision_log_dir: Path, threads: int = 1, max_batch: int = 256,
               central_timeout_s: float = 1.0,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, auth: PodAuth | None = None,
               audit_key: SigningKey | None = None,
               checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY, region: str | None = None,
               policy: Policy | None = None, watch: WatchSettings | None = None,
               central_tokens: TokenSource | None = None, replay_tokens: TokenSource | None = None) -> Starlette:
    """Build the ASGI app for one deployed bundle.

    Args:
        deploy_dir: the bundle files plus ``release.json``.
        trust_dir: the release public keys the bundle's signature must verify under.
        central_url: base URL of the central pod consulted below the abstain threshold; None
            answers everything at the edge (this is how the central pod itself runs). Its
            ``/healthz`` is asked first (see :meth:`serving.router.Router.check_central`): a
            central that cannot be reached yet is logged as a warning and the app still starts.
        shadow_rate: fraction (0–1) of edge-decided records also scored by central, logged only.
        decision_log_dir: root of the decision log (see :mod:`serving.decision_log`).
        threads: ONNX Runtime intra-op threads.
        max_batch: most records accepted in one request.
        central_timeout_s: seconds allowed for one central round trip.
        max_body_bytes: largest request body read, in bytes (larger ones are answered 413).
        auth: the JWKS, issuer and replay setting tokens are checked with; None serves every
            endpoint without a token (logged as a warning).
        audit_key: signs the decision log's checkpoints (every ``checkpoint_every`` lines and
            when the pod stops); None still chains the log but leaves checkpoints unsigned
            (logged as a warning).
        region: the pod's storage region (``eu``, ``us``); a record holding a field the privacy
            policy does not allow there is refused (451, counted as ``residency``) before it is
            decided or logged; a bundle whose contract requires such a field is refused like a
            broken one. None: no residency check.
        policy: the privacy policy for ``region`` (default the repository's).
        watch: where the revocation list is and how often the list and ``deploy_dir`` are
            polled (:mod:`serving.hot_swap`); None serves the starting bundle only, with no list.
        central_tokens: this pod's own tokens for its central pod (see :class:`serving.router.Router`).
        replay_tokens: the same credential asking scopes ``decide replay``, to mark a replayed
            request's calls to central as replay (see :class:`serving.router.Router`); None: unmarked.

    Raises:
        BundleError: the bundle fails verification or cannot be read (see :func:`load_model`),
            its feature contract cannot be enforced or does not match the manifest's
            ``text_fields``/``numeric_inputs`` and the graph's inputs, its ``role`` is neither
            ``edge`` nor ``central``, or ``release.json`` is missing, incomplete or releases
            another model — the pod must not start.
        ValueError: ``threads``, ``max_body_bytes`` or ``checkpoint_every`` is below 1,
            ``shadow_rate`` or ``central_url`` is invalid (see :class:`serving.router.Router`), or the central URL
            answers but is not a central pod of this decision
            (:class:`serving.router.CentralMismatch`), or ``auth`` names a JWKS that cannot be
            read or holds no key, or a blank issuer (see :class:`serving.auth.TokenVerifier`),
            or ``region`` is one the privacy policy does not name or may not hold a field the
            contract requires (see :func:`commons.residency.check_contract_region`).
        PolicyError: the privacy policy cannot be read.
    """
    if threads < 1 or max_body_bytes < 1:
        raise ValueError(f"threads and max_body_bytes must be at least 1, got {threads} and "
                         f"{max_body_bytes}")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be at least 1, got {checkpoint_every}")
    if region is not None:
        policy = policy or load_policy()
        check_region(region, policy)
    metrics = PodMetrics()
    revocations = RevocationWatch(watch, metrics.registry) if watch else None
    verifier = (TokenVerifier(auth, revoked_kids=(lambda: revocations.revoked_kids) if revocations else None)
                if auth is not None else None)

    def open_served(folder: Path) -> Served:
        # The model has checked the contract against the manifest's inputs (and the graph, if any).
        model = load_model(folder, threads, trust_dir)
        role = model.manifest.get("role", EDGE)
        if role not in ROLES:
            raise BundleError(f"manifest role must be one of {', '.join(ROLES)}, got {role!r}")
        if region is not None:  # at start and at a live swap alike
            check_contract_region(model.manifest["feature_contract"], region, policy)
        release = load_release(folder, model.manifest)
        return Served(model, Router(model, model_version=str(release["model_version"]), central_url=central_url,
                                    shadow_rate=shadow_rate, timeout_s=central_timeout_s,
                                    central_tokens=central_tokens, replay_tokens=replay_tokens), release)

    first = open_served(deploy_dir)
    model, router, role = first.model, first.router, first.model.manifest.get("role", EDGE)
    try:
        unreachable = router.check_central()
    except ValueError:
        router.close()
        raise
    if unreachable:
        logger.warning("%s; starting anyway: unsure records take the fallback route until it answers",
                       unreachable)
    log = DecisionLog(decision_log_dir, audit_key, checkpoint_every)
    if audit_key is None:
        logger.warning("no audit key: the decision log of %r is hash-chained but its checkpoints are "
                       "UNSIGNED (run `edge-insights audit keygen`)", model.decision)
    decision = model.decision
    live = LiveBundle(first, open_served=open_served, deploy_dir=deploy_dir,
                      keep=watch.keep_bundles if watch else 1, registry=metrics.registry)
    poller = Poller(live, revocations, watch.poll_s) if watch else None
    if poller is not None:
        # Before the first request: a pod started on a revoked bundle never answers with it.
        poller.round()
    else:
        logger.warning("no watch: pod for %r ignores revocation lists and new deployments", decision)
    if verifier is None:
        logger.warning("AUTH IS OFF: pod for %r answers anyone who can reach it (start it with --jwks PATH "
                       "to require bearer tokens)", decision)
    else:
        logger.info("tokens required: issuer %r, audience %r, JWKS %s (key ids %s)", auth.issuer, decision,
                    auth.jwks, ", ".join(verifier.keys.kids))

    def refusal(request: Request, scope: str) -> Response | None:
        """The 401/403 answer when the request's token does not grant ``scope`` here, else None."""
        if verifier is None:
            return None
        try:
            # Authorization is no list-valued header (RFC 9110 §5.3): two of them are joined, and
            # the joined value is refused as malformed, rather than whichever came first obeyed.
            given = request.headers.getlist("authorization")
            verifier.verify(", ".join(given) if given else None, audience=decision, scope=scope)
        except BearerRefusal as err:
            metrics.rejected.labels(err.reason or "token").inc()
            return error_response(err, reason=err.reason)
        return None

    def traffic_class(request: Request) -> str | Response:
        """The request's traffic class (:mod:`commons.traffic`), or the answer refusing it: 422 for a
        class the pod does not know, 403 for ``replay`` without a token granting it."""
        try:
            traffic = requested_traffic(request.headers.getlist(TRAFFIC_HEADER))
        except ValueError as err:
            metrics.rejected.labels("traffic_class").inc()
            return _unprocessable("invalid traffic class", [FieldError(None, TRAFFIC_HEADER, str(err))])
        if traffic != REPLAY:
            return traffic
        if verifier is None:
            # Nobody identified: honouring it would let any client hide its traffic from the drift test.
            metrics.rejected.labels("replay_without_tokens").inc()
            return error_response(ReplayRefused(f"this pod requires no tokens, so it cannot tell who may mark "
                                                f"traffic as {REPLAY}; it takes production traffic only"))
        refused = refusal(request, SCOPE_REPLAY)
        return traffic if refused is None else refused

    def record_decisions(records: list[dict[str, Any]], routed: list[Routed], at: datetime, traffic: str) -> None:
        log.append([log_entry(r, decision, rec.get("product_id"), at, traffic) for rec, r in zip(records, routed)])
        for r in routed:
            metrics.decisions.labels(decision, r.route, r.label, traffic).inc()

    def settle_shadow(served: Served, records: list[dict[str, Any]], routed: list[Routed], at: datetime,
                      traffic: str) -> None:
        scored = served.router.score_shadow(records, routed, traffic)
        if any(r.central_error for r in scored):
            metrics.central_errors.labels(decision).inc()
        for r in scored:
            if r.central_label is not None:
                metrics.shadow.labels(decision, str(r.central_label == r.edge_label).lower(), traffic).inc()
        record_decisions(records, scored, at, traffic)

    async def body_of(request: Request, limit: int) -> bytes | Response:
        """The request body, or the 413/408 answer when it passes ``limit`` bytes or stalls."""
        try:
            return await read_body(request, limit)
        except (BodyTooLarge, BodyTimeout) as err:
            metrics.rejected.labels("too_large").inc()
            return error_response(err)

    async def decide(request: Request) -> Response:
        # Before anything else: nothing a refused caller sends is read, let alone decided.
        refused = refusal(request, SCOPE_DECIDE)
        if refused is not None:
            return refused
        traffic = traffic_class(request)
        if isinstance(traffic, Response):
            return traffic
        # The request keeps this bundle to its end, whatever swaps meanwhile.
        served = live.current
        if request.path_params["decision"] != decision:
            metrics.rejected.labels("unknown_decision").inc()
            return error_response(NotServed(f"this pod serves {decision!r} only"))
        start = time.perf_counter()
        media_error = (_media_type_error(request.headers.get("content-type", ""))
                       or _encoding_error(request.headers.get("content-encoding", "")))
        if media_error:
            metrics.rejected.labels("media_type").inc()
            return error_response(UnsupportedMediaType(media_error))
        raw = await body_of(request, max_body_bytes)
        if isinstance(raw, Response):
            return raw
        try:
            # Decoded here, not by json.loads: given bytes it guesses UTF-16/32 too. A leading BOM is
            # ignored, as RFC 8259 §8.1 allows a parser to; an encoded lone surrogate passes, as json
            # lets it, so the contract check names its field.
            text = raw.decode("utf-8-sig", errors="surrogatepass")
        except UnicodeDecodeError as err:
            metrics.rejected.labels("malformed_json").inc()
            return _unprocessable("malformed JSON", [FieldError(None, None, f"body is not UTF-8: undecodable byte "
                                                                            f"at offset {err.start}")])
        try:
            body = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=refuse_duplicate_keys)
        except ValueError as err:
            metrics.rejected.labels("malformed_json").inc()
            # Python's own message for a huge integer advises a client to change the server's limit.
            message = str(err).split("; use sys.set_int_max_str_digits()")[0]
            return _unprocessable("malformed JSON", [FieldError(None, None, message)])
        except RecursionError:
            # The C parser recurses once per nesting level; a valid body nests four at most.
            metrics.rejected.labels("malformed_json").inc()
            return _unprocessable("malformed JSON", [FieldError(None, None, "JSON nested too deep")])
        records, errors = _records_of(body, max_batch)
        if errors:
            metrics.rejected.labels("invalid_batch").inc()
            return _unprocessable("invalid batch", errors)
        errors = [e for i, rec in enumerate(records) for e in check_record(rec, served.contract, i)]
        if errors:
            metrics.rejected.labels("contract").inc()
            return _unprocessable("records break the feature contract", errors)
        if region is not None:
            held = [(i, f) for i, rec in enumerate(records) for f in forbidden_fields(rec, region, policy)]
            if held:
                # Refused whole and before routing: nothing a region may not hold is decided or logged.
                metrics.rejected.labels("residency").inc()
                return error_response(ResidencyRefused(
                    f"this pod's region {region!r} may not hold field(s) "
                    f"{', '.join(sorted({f for _, f in held}))} (privacy policy)"),
                    errors=[FieldError(i, f, f"not allowed in region {region!r}").to_dict() for i, f in held])

        at = datetime.now(timezone.utc)
        try:
            routed = await run_in_threadpool(served.decide, records, traffic)
        except NoBundle as err:
            metrics.central_errors.labels(decision).inc()
            return error_response(err)
        if any(r.route == FALLBACK for r in routed):
            metrics.central_errors.labels(decision).inc()
        unseen = sum(r.out_of_range for r in routed)
        if unseen:
            metrics.out_of_range.labels(decision).inc(unseen)
        # Shadow decisions are logged once central has scored them, after the answer is sent,
        # so shadow sampling never adds latency to the hot path.
        shadow = [i for i, r in enumerate(routed) if r.shadow]
        settled = [i for i, r in enumerate(routed) if not r.shadow]
        await run_in_threadpool(record_decisions, [records[i] for i in settled],
                                [routed[i] for i in settled], at, traffic)
        background = (BackgroundTask(settle_shadow, served, [records[i] for i in shadow],
                                     [routed[i] for i in shadow], at, traffic) if shadow else None)
        metrics.latency.labels(decision).observe(time.perf_counter() - start)
        return JSONResponse({"decisions": [r.response(decision) for r in routed]}, background=background)

    async def healthz(request: Request) -> Response:
        served = live.current
        return JSONResponse({"status": "ok", "decision": decision,
                             "model_version": None if served.central_only else served.router.model_version,
                             "bundle_sha256": served.bundle_sha256, "alias": served.release["alias"],
                             "signed_by": None if served.central_only else served.model.signed_by,
                             "role": role, "oracle": oracle_kind(served.model.manifest),
                             "central_only": served.central_only,
                             "revocation_serial": revocations.accepted.serial
                             if revocations and revocations.accepted else None})

    async def readyz(request: Request) -> Response:
        # Readiness, not liveness: a central-only pod with no central is up but answers every
        # decision 503, so a load balancer must stop sending it traffic.
        served = live.current
        if served.central_only and not served.router.has_central:
            return JSONResponse({"ready": False, "reason": "this pod's bundle is revoked, it holds no other and "
                                                           "has no central pod"}, 503)
        return JSONResponse({"ready": True})

    async def push_revocation(request: Request) -> Response:
        refused = refusal(request, SCOPE_ADMIN)
        if refused is not None:
            return refused
        if poller is None:
            return error_response(NotServed("this pod was started without a revocation watch"))
        raw = await body_of(request, MAX_LIST_BYTES)
        if isinstance(raw, Response):
            return raw
        try:
            document = raw.decode("ascii")
        except UnicodeDecodeError:
            document = ""
        try:
            obeyed = await run_in_threadpool(revocations.offer, document)
        except RevocationListError as err:
            return error_response(err, reason=err.reason)
        await run_in_threadpool(live.apply, revocations.withdrawal)
        return JSONResponse({"serial": obeyed.serial, "bundle_sha256": live.current.bundle_sha256,
                             "central_only": live.current.central_only})

    async def prometheus(request: Request) -> Response:
        refused = refusal(request, SCOPE_METRICS)
        if refused is not None:
            return refused
        return Response(metrics.render(), media_type=metrics.content_type)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        if poller is not None:
            poller.start()
        yield
        if poller is not None:
            poller.stop()
        for served in {id(s): s for s in (*live.held, live.current)}.values():
            served.router.close()
        # The stop checkpoint seals what this pod wrote: a log cut short after it is caught.
        log.close()

    return Starlette(routes=[Route("/v1/decisions/{decision}", decide, methods=["POST"]),
                             Route("/healthz", healthz, methods=["GET"]),
                             Route("/readyz", readyz, methods=["GET"]),
                             Route("/metrics", prometheus, methods=["GET"]),
                             Route("/admin/revocation", push_revocation, methods=["POST"])],
                     lifespan=lifespan)
