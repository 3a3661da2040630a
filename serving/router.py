"""Hybrid oracle: decide at the edge, ask the central model when the edge is unsure.

For each validated record the edge model answers first, reading the record's text fields and, for
a hybrid bundle, its numeric inputs (see :class:`serving.contract.ModelInputs`). When its
confidence (the largest softmax probability) is below the bundle's ``thresholds.abstain``, the
record goes to the central oracle — another pod of this same app serving the central bundle (a
teacher graph, or the decision's label rule: :mod:`serving.bundle_model`), sent the very same
records, numbers included — and the central answer is returned with route
``"central"``. When central is unreachable, slow or answers nonsense, the edge answer stands
with route ``"fallback"``. A pod without a central URL answers everything at the edge.

Central's answers are checked one by one (:mod:`serving.central_answer`); a refused answer sends
that record alone to the fallback route. Records holding a numeric value outside the bundle's
``trained_range`` go to central whatever the edge's confidence (:mod:`serving.trained_range`).

Before an edge pod serves, :meth:`Router.check_central` asks the central URL's ``/healthz``: a
pod that answers as anything but a ``central`` pod of the same decision stops the edge pod from
starting (it would route unsure records to the wrong model), while a central that cannot be
reached yet only earns a warning, since the fallback route covers it until it is up.

An edge pod calls its central pod with its own token (``central_tokens``: aud = the decision,
scope ``decide``, fetched from the token endpoint and renewed before it expires, see
:mod:`commons.token_client`); a central pod started with ``--jwks`` refuses it otherwise, and the
record takes the fallback route.

A replayed request's records (:mod:`commons.traffic`) go to central marked replay too, so the
central pod logs them as replay: with ``replay_tokens`` (the pod's own credential asking scopes
``decide replay``) only, since a central pod refuses the mark from a caller it cannot identify; a
pod without them sends the records unmarked, as before the mark existed.

Shadow sampling: a deterministic fraction of edge-decided records (chosen from the signal digest,
so a replay picks the same ones) is also scored by central after the answer is sent; the pair is
logged to measure divergence and never changes the answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from commons.errors import ServingError
from commons.manifest import BundleError
from commons.token_client import BearerAuth, TokenFetchError, TokenSource
from commons.traffic import PRODUCTION, REPLAY, TRAFFIC_HEADER

from .bundle_model import BundleModel
from .central_answer import CentralAnswer, check_central_answer
from .contract import signal_digest
from .input_profile import input_profile
from .route_reason import CENTRAL_ERROR, CENTRAL_ONLY, CONFIDENT, NO_CENTRAL, asking_reason
from .trained_range import outside_range, read_trained_range

EDGE, CENTRAL, FALLBACK = "edge", "central", "fallback"
ROLES = (EDGE, CENTRAL)
"""A pod's role (manifest key ``role``): an ``edge`` pod may consult a ``central`` one."""
_DIGEST_SPACE = float(16 ** 16)


def shadow_selected(digest: str, rate: float) -> bool:
    """Whether a record with this signal digest is shadow-scored at ``rate`` (0–1).

    Uses the first 64 bits of the digest as a uniform number in [0, 1): the same signal is
    always in or out of the sample, on every pod and every replay.
    """
    return int(digest[:16], 16) / _DIGEST_SPACE < rate


@dataclass(frozen=True)
class Routed:
    """One record's decision and how it was reached.

    Attributes:
        label, score: the answer and its probability (0–1) under the answering model.
        route: ``"edge"``, ``"central"`` or ``"fallback"``.
        route_reason: why it took that route (:mod:`serving.route_reason`: ``confident``,
            ``no_central``, ``abstain``, ``out_of_range``, ``central_only``, ``central_error``).
        model_version, bundle_sha256: identity of the answering model.
        signal_digest: sha256 hex of the features the models saw.
        latency_ms: milliseconds from the start of the batch's tokenisation until this record's
            answer was settled; edge answers share the batch's inference time, central and
            fallback answers add the central round trip.
        edge_label, edge_score, edge_bundle_sha256: the edge model's own answer; None when the
            pod routes everything to central because its bundle was revoked
            (:meth:`Router.decide_centrally`).
        central_label, central_score, central_bundle_sha256: central's answer, None when central
            was not consulted (or failed).
        shadow: the record is in the shadow sample (central scored it for the log only).
        central_error: why consulting central failed, None otherwise.
        inputs: the record's input profile (:func:`serving.input_profile.input_profile`), the
            decision log's raw material for input drift.
        out_of_range: a numeric input value lies outside the bundle's ``trained_range``, so the
            record was sent to central whatever the edge's confidence.
    """

    label: str
    score: float
    route: str
    route_reason: str
    model_version: str
    bundle_sha256: str
    signal_digest: str
    latency_ms: float
    edge_label: str | None
    edge_score: float | None
    edge_bundle_sha256: str | None
    central_label: str | None = None
    central_score: float | None = None
    central_bundle_sha256: str | None = None
    shadow: bool = False
    central_error: str | None = None
    inputs: dict[str, float] | None = None
    out_of_range: bool = False

    def response(self, decision: str) -> dict[str, Any]:
        """The public decision response for this record."""
        return {"decision": decision, "label": self.label, "score": self.score, "route": self.route,
                "model_version": self.model_version, "bundle_sha256": self.bundle_sha256,
                "signal_digest": self.signal_digest, "latency_ms": self.latency_ms}


class CentralError(ServingError):
    """The central model could not be reached or gave an unusable answer."""


class CentralMismatch(ServingError, ValueError):
    """The central URL answers, but not as a central pod of this pod's decision."""


def check_central_url(url: str) -> None:
    """Refuse a central URL that is not an absolute ``http``/``https`` URL with a host.

    Raises:
        ValueError: it is not; httpx would otherwise fail every request, turning every unsure
            record into a silent fallback.
    """
    try:
        parts = urlsplit(url)
        # .port raises ValueError for a port that is not a number in 0-65535; 0 is no port.
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"central URL must be an http(s) URL such as http://127.0.0.1:8101, got {url!r}")


class Router:
    """Routes validated records between the edge model and an optional central pod.

    Args:
        model: the pod's edge model; its ``inputs`` say which record fields it reads.
        model_version: registry version of the edge model (from ``release.json``).
        central_url: base URL of the central pod, e.g. ``http://127.0.0.1:8101``; None answers
            everything at the edge.
        shadow_rate: fraction (0–1) of edge-decided records also scored by central.
        timeout_s: seconds allowed for one central round trip (connect, read and write each).
        central_tokens: where this pod's own tokens for its central pod come from (audience: the
            decision, scope ``decide``); None sends none (a central pod without ``--jwks``).
        replay_tokens: the same credential asking scopes ``decide replay``, used to pass a replayed
            request's mark on to central; None passes no mark.

    Raises:
        BundleError: the manifest has no ``thresholds.abstain``, or a malformed ``trained_range``
            (:func:`serving.trained_range.read_trained_range`).
        ValueError: ``shadow_rate`` is outside [0, 1], or positive without a central URL, or the
            central URL is not an http(s) URL.
    """

    def __init__(self, model: BundleModel, *, model_version: str, central_url: str | None = None,
                 shadow_rate: float = 0.0, timeout_s: float = 1.0,
                 central_tokens: TokenSource | None = None, replay_tokens: TokenSource | None = None) -> None:
        try:
            self.abstain = float(model.manifest["thresholds"]["abstain"])
        except (KeyError, TypeError):
            raise BundleError("manifest lacks thresholds.abstain") from None
        self.ranges = read_trained_range(model.manifest, model.inputs)
        if not 0.0 <= shadow_rate <= 1.0:
            raise ValueError(f"shadow_rate must lie in [0, 1], got {shadow_rate}")
        if shadow_rate > 0 and not central_url:
            raise ValueError("shadow sampling needs a central URL")
        if central_url:
            check_central_url(central_url)
        self.model = model
        self.model_version = model_version
        self.shadow_rate = shadow_rate
        auth = BearerAuth(central_tokens, model.decision) if central_tokens is not None else None
        self._central = (httpx.Client(base_url=central_url.rstrip("/"), timeout=timeout_s, auth=auth)
                         if central_url else None)
        self._central_tokens = central_tokens
        self._replay_auth = BearerAuth(replay_tokens, model.decision) if replay_tokens is not None else None

    def close(self) -> None:
        """Close the connection pool to the central pod."""
        if self._central is not None:
            self._central.close()

    @property
    def has_central(self) -> bool:
        """Whether this pod routes to a central pod (it was given a central URL)."""
        return self._central is not None

    def check_central(self) -> str | None:
        """Ask the central pod's ``/healthz`` whether it is a central pod of this decision.

        Returns:
            None when it is (or when this pod has no central), else a warning that central could
            not be reached (a transport failure or a 5xx, e.g. a proxy before a pod still
            starting) or that no token for it could be fetched yet: the pod may start, unsure
            records take the fallback route meanwhile. With ``central_tokens``, the token for
            central is fetched here, so the first unsure record does not wait for it.

        Raises:
            CentralMismatch: something answered but is not a ``central`` pod deciding this
                pod's decision (another edge pod, another decision, not a pod at all).
        """
        if self._central is None:
            return None
        url = self._central.base_url
        try:
            # /healthz is open: no token is fetched before the pod is known to be the right one.
            reply = self._central.get("/healthz", auth=None)
        except httpx.HTTPError as err:
            return f"central pod at {url} is unreachable ({type(err).__name__})"
        if reply.status_code >= 500:
            return f"central pod at {url} is unreachable (HTTP {reply.status_code})"
        try:
            health = reply.json()
            role, decision = health.get("role", EDGE), health["decision"]
        except (ValueError, KeyError, AttributeError):
            raise CentralMismatch(f"{url} does not answer /healthz like a pod "
                                  f"(HTTP {reply.status_code})") from None
        if reply.status_code != 200 or role != CENTRAL or decision != self.model.decision:
            raise CentralMismatch(f"{url} answers as a pod with role {role!r} deciding {decision!r}; "
                                  f"this pod needs role 'central' deciding {self.model.decision!r}")
        if self._central_tokens is not None:
            # Fetched now rather than by the first unsure record, which would otherwise hold its
            # batch for the fetch (0.3-0.5 s measured on the live-loop benchmark's 2 cores).
            try:
                self._central_tokens.token(self.model.decision)
            except TokenFetchError as err:
                return f"no token for central pod at {url} yet ({err})"
        return None

    def decide(self, records: list[dict[str, Any]], traffic: str = PRODUCTION) -> list[Routed]:
        """Decide a batch of contract-conforming records.

        Args:
            records: ``batch`` records that passed :func:`serving.contract.check_record`.
            traffic: the request's traffic class (:mod:`commons.traffic`), passed on to central.

        Returns:
            One :class:`Routed` per record, in order. Shadow-sampled records carry
            ``shadow=True`` and no central answer yet: pass them to :meth:`score_shadow`.
        """
        start = time.perf_counter()
        inputs = self.model.inputs
        features = [inputs.features(r) for r in records]
        digests = [signal_digest(f) for f in features]
        numeric = [inputs.numeric_row(f) for f in features] if inputs.numeric_width else None
        labels, probs = self.model.predict([inputs.text(f) for f in features], numeric)
        edge_ms = (time.perf_counter() - start) * 1000.0
        routed, unsure = [], []
        for i, (digest, label, row) in enumerate(zip(digests, labels, probs)):
            score = float(row.max())
            unseen = outside_range(features[i], self.ranges)
            reason = asking_reason(score < self.abstain, unseen)
            ask = self._central is not None and reason is not None
            if ask:
                unsure.append(i)
            elif reason is not None:
                reason = NO_CENTRAL
            # An asked record keeps its asking reason: _ask_central settles its route as central or fallback.
            routed.append(Routed(
                label=label, score=score, route=EDGE, route_reason=reason or CONFIDENT,
                model_version=self.model_version, bundle_sha256=self.model.bundle_sha256, signal_digest=digest,
                latency_ms=round(edge_ms, 3), edge_label=label, edge_score=score,
                edge_bundle_sha256=self.model.bundle_sha256,
                shadow=self._central is not None and not ask and shadow_selected(digest, self.shadow_rate),
                inputs=input_profile(self.model.tokenizer, inputs, features[i]), out_of_range=unseen))
        if unsure:
            self._ask_central(records, routed, unsure, start, traffic)
        return routed

    def decide_centrally(self, records: list[dict[str, Any]], traffic: str = PRODUCTION) -> list[Routed]:
        """Send a whole batch to the central pod, without asking the edge model (central-only routing:
        the pod's bundle is revoked and it holds no other). Features and digests still come from the
        bundle's feature contract, so central checks it saw the same inputs. ``traffic``: as
        :meth:`decide`.

        Returns:
            One :class:`Routed` per record with route ``"central"`` and no edge answer.

        Raises:
            CentralError: the pod has no central, or central failed or refused an answer to any
                record (nothing to fall back on).
        """
        if self._central is None:
            raise CentralError("no central pod to route to")
        start = time.perf_counter()
        inputs = self.model.inputs
        features = [inputs.features(r) for r in records]
        digests = [signal_digest(f) for f in features]
        answers = self._central_decisions(records, digests, traffic)
        refused = next((a.error for a in answers if a.error), None)
        if refused:
            raise CentralError(refused)
        settled_ms = round((time.perf_counter() - start) * 1000.0, 3)
        return [Routed(label=a.label, score=a.score, route=CENTRAL, route_reason=CENTRAL_ONLY,
                       model_version=a.model_version, bundle_sha256=a.bundle_sha256, signal_digest=digest,
                       latency_ms=settled_ms, edge_label=None, edge_score=None, edge_bundle_sha256=None,
                       inputs=input_profile(self.model.tokenizer, inputs, f))
                for a, digest, f in zip(answers, digests, features)]

    def _ask_central(self, records: list[dict[str, Any]], routed: list[Routed],
                     indices: list[int], start: float, traffic: str) -> None:
        try:
            answers = self._central_decisions([records[i] for i in indices],
                                              [routed[i].signal_digest for i in indices], traffic)
        except CentralError as err:
            settled_ms = round((time.perf_counter() - start) * 1000.0, 3)
            for i in indices:
                routed[i] = replace(routed[i], route=FALLBACK, route_reason=CENTRAL_ERROR,
                                    latency_ms=settled_ms, central_error=str(err))
            return
        settled_ms = round((time.perf_counter() - start) * 1000.0, 3)
        for i, a in zip(indices, answers):
            routed[i] = (replace(routed[i], route=FALLBACK, route_reason=CENTRAL_ERROR, latency_ms=settled_ms,
                                 central_error=a.error)
                         if a.error else
                         replace(routed[i], route=CENTRAL, label=a.label, score=a.score,
                                 model_version=a.model_version, bundle_sha256=a.bundle_sha256,
                                 latency_ms=settled_ms, central_label=a.label, central_score=a.score,
                                 central_bundle_sha256=a.bundle_sha256))

    def score_shadow(self, records: list[dict[str, Any]], routed: list[Routed],
                     traffic: str = PRODUCTION) -> list[Routed]:
        """Have central score shadow-sampled records; the answers themselves do not change.

        Args:
            records: the shadow-sampled records (as sent by the client, contract-conforming).
            routed: their :class:`Routed` from :meth:`decide`, same order.
            traffic: as :meth:`decide`.

        Returns:
            The same decisions with ``central_label``/``central_score``/``central_bundle_sha256``
            filled, or ``central_error`` set when central failed or its answer for that record
            was refused.
        """
        if not records:
            return []
        try:
            answers = self._central_decisions(records, [r.signal_digest for r in routed], traffic)
        except CentralError as err:
            return [replace(r, central_error=str(err)) for r in routed]
        return [replace(r, central_error=a.error) if a.error else
                replace(r, central_label=a.label, central_score=a.score, central_bundle_sha256=a.bundle_sha256)
                for r, a in zip(routed, answers)]

    def _central_decisions(self, records: list[dict[str, Any]], digests: list[str],
                           traffic: str) -> list[CentralAnswer]:
        """POST records to the central pod, as ``traffic`` when this pod can vouch for a replay mark,
        and check its answer for each (:func:`serving.central_answer.check_central_answer`).

        Returns:
            One :class:`CentralAnswer` per record, in order; a refused one carries its ``error``.

        Raises:
            CentralError: transport failure or timeout, no token, a non-200 status, or a reply that
                is not ``{"decisions": [...]}`` with one decision per record.
        """
        marked = ({"headers": {TRAFFIC_HEADER: REPLAY}, "auth": self._replay_auth}
                   if traffic == REPLAY and self._replay_auth is not None else {})
        try:
            reply = self._central.post(f"/v1/decisions/{self.model.decision}", json={"records": records}, **marked)
        except httpx.HTTPError as err:
            raise CentralError(f"central unreachable: {type(err).__name__}") from err
        except TokenFetchError as err:
            raise CentralError(f"no token for central: {err}") from err
        if reply.status_code != 200:
            raise CentralError(f"central answered HTTP {reply.status_code}")
        try:
            answers = reply.json()["decisions"]
        except (ValueError, KeyError, TypeError, RecursionError) as err:
            raise CentralError("central answer is malformed") from err
        if not isinstance(answers, list) or len(answers) != len(records):
            raise CentralError("central answer does not match the records sent")
        return [check_central_answer(a, d, self.model.labels) for a, d in zip(answers, digests)]
