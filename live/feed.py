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
    ``GET /healthz``  ``{"status": "ok", "head": newest seq, "counts": LiveStore.counts()}``.
    ``GET /metrics``  Prometheus text of the watcher (:mod:`live.metrics`), when it has one.

Delivery is at least once: a subscriber that reconnects with its last id misses nothing, and
ids never repeat for different insights.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from live.broker import Broker
from live.metrics import LiveMetrics

# An idle stream wakes on the broker's publish signal (live.wakeup); this poll only catches what
# another process published (a decide process beside watch --no-decider) and adds at most this to it.
POLL_S = 0.01
KEEPALIVE_S = 15.0


def _filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    return {"decision": q.get("decision"), "label": q.get("label"), "product_id": q.get("product_id")}


def _start(request: Request, store: Broker) -> int:
    for value in (request.headers.get("last-event-id"), request.query_params.get("since")):
        if value is not None:
            try:
                return max(0, int(value))
            except ValueError:
                raise ValueError(f"not an event id: {value!r}") from None
    return store.head()


def feed_app(store: Broker, metrics: LiveMetrics | None = None) -> Starlette:
    """The feed's Starlette app over ``store``, the embedded store or a Redis broker (module docstring)."""

    async def stream(request: Request) -> Response:
        try:
            last = _start(request, store)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        filters = _filters(request)
        alerts_only = request.query_params.get("alerts_only", "false").lower() == "true"

        async def events() -> AsyncIterator[str]:
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
                await store.published.wait(generation, POLL_S)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def listing(request: Request) -> Response:
        try:
            since = int(request.query_params.get("since", "0"))
            limit = min(1000, int(request.query_params.get("limit", "100")))
        except ValueError:
            return JSONResponse({"error": "since and limit must be integers"}, status_code=422)
        rows = await run_in_threadpool(store.insights_after, since, limit=limit, **_filters(request))
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
