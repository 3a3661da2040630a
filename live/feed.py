"""The insight feed: a Starlette app over the live broker, run inside the watcher (or alone).

Endpoints:
    ``GET /v1/insights/stream``  Server-Sent Events (``text/event-stream``): one ``event: insight``
        per insight, ``id:`` its ``seq`` (an integer; with Redis, the insight stream's entry
        ``{seq}-0``) and ``data:`` its JSON (:data:`live.store.INSIGHT_FIELDS`).
        Query filters ``decision``, ``label``, ``product_id``, ``alerts_only=true``. Resumes after
        the ``Last-Event-ID`` header (what browsers' ``EventSource`` sends on reconnect) or
        ``?since=SEQ``; without either it starts at the newest insight (only new ones are sent).
        A comment line keeps idle connections open every 15 s.
    ``GET /v1/insights``  JSON ``{"insights": [...]}`` after ``since`` (default 0), same filters,
        ``limit`` ≤ 1000.
    A value neither can honour (a decision no contract names, a label its decision never gives,
    ``alerts_only`` other than true/false, an id that is not ASCII digits in 0..2**63-1, a limit
    outside 1..1000, a parameter given twice) is refused: 422 naming it; a stream past
    :data:`MAX_STREAMS` open ones: 503 with ``Retry-After``.
    ``GET /healthz``  ``{"status": "ok", "head": newest seq, "counts": LiveStore.counts()}``.
    ``GET /metrics``  Prometheus text of the watcher (:mod:`live.metrics`), when it has one.

Delivery is at least once: a subscriber that reconnects with its last id misses nothing, and
ids never repeat for different insights.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from commons.contracts import CONTRACTS
from live.broker import Broker
from live.metrics import LiveMetrics
from training.decisions import DECISIONS

log = logging.getLogger(__name__)

# An idle stream wakes on the broker's publish signal (live.wakeup). What another process published
# (a decide process beside watch --no-decider) sends no signal: one poll of the broker's head, shared
# by all open streams, turns it into one, adding at most this to its latency. A poll per stream cost
# a core at 64 idle streams (~100 queries/s each; adversarial pass, 2026-12-02).
POLL_S = 0.01
KEEPALIVE_S = 15.0


# Each open stream wakes on every publish and reads the broker: past this many, a new one is
# refused (503) before the streams take the watcher's cores from deciding.
MAX_STREAMS = 64
# Event ids are SQLite integers (and Redis stream sequence numbers below them).
MAX_EVENT_ID = 2**63 - 1
MAX_LIMIT = 1000
_INTEGER = re.compile(r"-?[0-9]+")


def _bounded(name: str, value: str, low: int, high: int) -> int:
    """``value`` as an integer in ``[low, high]``; ValueError naming ``name`` otherwise."""
    # ASCII digits only: int() would also take "+5", "5_000", " 5" and other scripts' digits.
    if not _INTEGER.fullmatch(value):
        raise ValueError(f"{name} must be an integer, got {value[:40]!r}")
    number = int(value)
    if not low <= number <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value[:40]}")
    return number


def _single(request: Request, name: str) -> str | None:
    """Query parameter ``name``; ValueError when it is given more than once (which one was meant?)."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise ValueError(f"{name} is given {len(values)} times; give it once")
    return values[0] if values else None


def _or(value: str | None, default: str) -> str:
    """``value`` unless absent; an empty ``?since=`` stays empty (and is refused), not the default."""
    return default if value is None else value


#: Every query parameter the feed reads: a misspelt one (``decsion=``) would filter nothing.
QUERY_PARAMETERS = frozenset({"decision", "label", "product_id", "alerts_only", "since", "limit"})


def _filters(request: Request) -> dict[str, Any]:
    """The ``decision``, ``label`` and ``product_id`` filters. An unknown query parameter, a
    decision no contract names, or a label that decision (or, without one, any decision) never
    gives, is refused (ValueError), not left to match everything or nothing forever."""
    unknown = sorted(set(request.query_params) - QUERY_PARAMETERS)
    if unknown:
        raise ValueError(f"unknown query parameter {unknown[0][:40]!r}; the feed reads "
                         f"{', '.join(sorted(QUERY_PARAMETERS))}")
    decision, label = _single(request, "decision"), _single(request, "label")
    if decision is not None and decision not in CONTRACTS:
        raise ValueError(f"decision must be one of {', '.join(sorted(CONTRACTS))}, got {decision[:40]!r}")
    if label is not None:
        labels = sorted(set(DECISIONS[decision].labels) if decision else
                        {lab for spec in DECISIONS.values() for lab in spec.labels})
        if label not in labels:
            raise ValueError(f"label must be one of {', '.join(labels)}, got {label[:40]!r}")
    return {"decision": decision, "label": label, "product_id": _single(request, "product_id")}


def _alerts_only(request: Request) -> bool:
    value = _or(_single(request, "alerts_only"), "false").lower()
    if value not in ("true", "false"):
        raise ValueError(f"alerts_only must be true or false, got {value[:40]!r}")
    return value == "true"


def _start(request: Request, store: Broker) -> int:
    for name, value in (("Last-Event-ID", request.headers.get("last-event-id")),
                        ("since", _single(request, "since"))):
        if value is not None:
            return _bounded(name, value, 0, MAX_EVENT_ID)
    return store.head()


def feed_app(store: Broker, metrics: LiveMetrics | None = None) -> Starlette:
    """The feed's Starlette app over ``store``, the embedded store or a Redis broker (module docstring)."""

    open_streams = 0
    head_poll: asyncio.Task | None = None

    async def poll_head() -> None:
        """While a stream is open, wake the streams when the broker's head moves; the first look
        always wakes them, so a publish just before this task started is not slept on."""
        seen = -1
        while open_streams:
            try:
                head = await run_in_threadpool(store.head)
            except Exception as exc:  # noqa: BLE001 - a broker hiccup (Redis restarting) must not end the poll
                log.warning("feed: the broker's head could not be read (%s); streams still wake on this "
                            "process's publishes", exc)
                head = seen
            if head != seen:
                seen = head
                store.published.notify()
            await asyncio.sleep(POLL_S)

    async def stream(request: Request) -> Response:
        nonlocal open_streams, head_poll
        try:
            last, filters, alerts_only = _start(request, store), _filters(request), _alerts_only(request)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        if open_streams >= MAX_STREAMS:
            return JSONResponse({"error": f"{MAX_STREAMS} streams are open, the most this feed serves; retry "
                                          "later"}, status_code=503, headers={"Retry-After": "5"})
        open_streams += 1
        if head_poll is None or head_poll.done():
            head_poll = asyncio.create_task(poll_head())

        async def events() -> AsyncIterator[str]:
            nonlocal last, open_streams
            try:
                async for event in _events():
                    yield event
            finally:
                open_streams -= 1

        async def _events() -> AsyncIterator[str]:
            nonlocal last
            quiet_since = time.monotonic()
            while not await request.is_disconnected():
                generation = store.published.generation
                rows = await run_in_threadpool(store.insights_after, last, **filters)
                for row in rows:
                    last = row["seq"]
                    if alerts_only and not row["alert"]:
                        continue
                    if metrics is not None:
                        metrics.stream_events.inc()
                    yield f"id: {row['seq']}\nevent: insight\ndata: {json.dumps(row)}\n\n"
                if rows:
                    quiet_since = time.monotonic()
                    continue
                if time.monotonic() - quiet_since > KEEPALIVE_S:
                    quiet_since = time.monotonic()
                    yield ": keep-alive\n\n"
                await store.published.wait(generation, KEEPALIVE_S)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def listing(request: Request) -> Response:
        try:
            since = _bounded("since", _or(_single(request, "since"), "0"), 0, MAX_EVENT_ID)
            limit = _bounded("limit", _or(_single(request, "limit"), "100"), 1, MAX_LIMIT)
            filters = _filters(request)
            alerts_only = _alerts_only(request)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        rows = await run_in_threadpool(store.insights_after, since, limit=limit, alerts_only=alerts_only, **filters)
        return JSONResponse({"insights": rows})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "head": await run_in_threadpool(store.head),
                             "counts": await run_in_threadpool(store.counts)})

    async def metrics_endpoint(request: Request) -> Response:
        if metrics is None:
            return JSONResponse({"error": "no metrics in this process"}, status_code=404)
        return Response(metrics.render(), media_type=metrics.content_type)

    return Starlette(routes=[Route("/v1/insights/stream", stream), Route("/v1/insights", listing),
                             Route("/healthz", healthz), Route("/metrics", metrics_endpoint)])
