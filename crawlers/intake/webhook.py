"""Webhook intake: partners POST signal batches over HTTP; accepted batches land in the inbox.

``POST /v1/signals`` with ``Authorization: Bearer <token>`` and a batch body whose
``Content-Type`` picks the format (``application/x-ndjson`` or ``text/csv``, see
:mod:`crawlers.intake.batch`). The batch is validated while the sender waits, so the answer
says exactly what happened to it:

=====  =========================================================================================
401    no bearer token, or not one of the configured tokens (``WWW-Authenticate: Bearer``)
413    body over :attr:`~crawlers.intake.batch.Limits.max_bytes` (refused before it is all read)
       or more than :attr:`~crawlers.intake.batch.Limits.max_rows` rows
415    content type, charset or content encoding (gzip, …) not accepted
422    the batch is not readable (empty, not JSON Lines, CSV header wrong, not UTF-8, …), or
       every row of it is quarantined: then the body also carries ``rows``, ``quarantined`` and
       ``quarantine`` as below, and nothing is written (there is nothing to ingest)
202    accepted: ``{"batch_id", "rows", "accepted", "quarantined", "quarantine"}`` where
       ``quarantine`` lists up to 100 ``{"url": "push://<batch_id>#<line>", "reason"}``
=====  =========================================================================================

Error bodies are ``{"error": "<reason>"}``. An accepted batch — partly bad ones too (at least one
good row), their bad rows become quarantine rows — is written as received into the inbox as
``<batch_id>.jsonl|.csv`` atomically (a hidden ``.tmp`` file, fsync, rename), so the drop-folder
reader (:func:`crawlers.intake.dropfolder.read_inbox`) picks it up whole or not at all: the
webhook and the folder share one path to the warehouse. Records therefore carry
``http_status`` None like every inbox record; webhook batches are told apart by their
``wh-`` batch id. ``GET /healthz`` answers ``{"status": "ok"}`` without a token.

Run one::

    EDGE_INSIGHTS_INTAKE_TOKENS=tok1,tok2 edge-insights intake serve --port 8090

Tokens come from the named environment variable (comma-separated), never from the command line,
where any user of the machine could read them in the process list.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from commons.http import BodyTimeout, BodyTooLarge, Unauthorised, Unprocessable, error_response, read_body
from crawlers.intake.batch import BatchRefused, Limits, batch_format, parse_batch

QUARANTINE_SHOWN = 100
"""Quarantine rows listed in a 202 answer (the counts are always complete)."""
DEFAULT_TOKEN_ENV = "EDGE_INSIGHTS_INTAKE_TOKENS"


def create_intake_app(inbox_dir: str | Path, tokens: Iterable[str], *,
                      limits: Limits = Limits()) -> Starlette:
    """The intake ASGI app.

    Args:
        inbox_dir: folder accepted batches are written to (created if absent).
        tokens: accepted bearer tokens (at least one; blank ones are ignored).
        limits: size limits per batch.

    Returns:
        A Starlette app with ``POST /v1/signals`` and ``GET /healthz``.

    Raises:
        ValueError: no usable token (an intake never runs open).
    """
    inbox = Path(inbox_dir)
    inbox.mkdir(parents=True, exist_ok=True)
    accepted = [token.strip().encode("utf-8") for token in tokens if token.strip()]
    if not accepted:
        raise ValueError("no intake tokens: refusing to start an unauthenticated intake")

    def authorised(request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return False
        # Headers arrive latin-1 decoded; compare the bytes as sent. Every token is compared
        # (no early exit) so timing says nothing about which one came close.
        given_bytes = given.strip().encode("latin-1")
        return sum(hmac.compare_digest(given_bytes, s) for s in accepted) > 0

    async def signals(request: Request) -> JSONResponse:
        if not authorised(request):
            return error_response(Unauthorised("missing or invalid bearer token"))
        try:
            fmt = batch_format(content_type=request.headers.get("content-type", ""))
            coding = request.headers.get("content-encoding", "identity").strip().lower()
            if coding not in ("", "identity"):
                # RFC 9110 section 8.4.1: 415 for a content coding the server does not accept.
                raise BatchRefused(f"content encoding {coding!r} not accepted; send the batch uncompressed", 415)
            body = await read_body(request, limits.max_bytes)
            batch_id = new_batch_id()
            batch = await run_in_threadpool(parse_batch, body, fmt, batch_id, limits=limits)
        except (BatchRefused, BodyTooLarge, BodyTimeout) as exc:
            return error_response(exc)
        shown = [{"url": q["url"], "reason": q["reason"]} for q in batch.quarantine[:QUARANTINE_SHOWN]]
        if not batch.records:
            return error_response(Unprocessable("every row was quarantined: nothing to ingest"),
                                  rows=batch.rows, quarantined=len(batch.quarantine), quarantine=shown)
        await run_in_threadpool(_write_atomically, inbox / f"{batch_id}.{fmt}", body)
        return JSONResponse({
            "batch_id": batch_id, "rows": batch.rows, "accepted": len(batch.records),
            "quarantined": len(batch.quarantine), "quarantine": shown}, 202)

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/v1/signals", signals, methods=["POST"]),
                             Route("/healthz", healthz, methods=["GET"])])


def new_batch_id() -> str:
    """A fresh webhook batch id: ``wh-<UTC yyyymmddTHHMMSSZ>-<12 hex>`` (sortable, unique)."""
    return f"wh-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(6)}"


def _write_atomically(path: Path, data: bytes) -> None:
    # The tmp name ends in ".tmp", so the drop-folder reader (*.jsonl, *.csv) never sees a
    # half-written batch; rename within one folder is atomic on POSIX.
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def tokens_from_env(name: str = DEFAULT_TOKEN_ENV) -> list[str]:
    """The comma-separated bearer tokens held by environment variable ``name``.

    Raises:
        ValueError: the variable is unset or holds no token.
    """
    tokens = [t for t in os.environ.get(name, "").split(",") if t.strip()]
    if not tokens:
        raise ValueError(f"environment variable {name} holds no tokens")
    return tokens


def run_intake(inbox_dir: Path, tokens: list[str], *, host: str = "127.0.0.1", port: int = 8090,
               limits: Limits = Limits()) -> None:
    """Serve the intake with uvicorn until interrupted (``edge-insights intake serve``), saying
    ``"intake listening on http://host:port"`` on stderr once bound, as pods do.

    Raises:
        SystemExit: uvicorn exits 1 when the port cannot be bound.
    """
    from commons.listen import serve_app  # only the runner needs the server

    serve_app(create_intake_app(inbox_dir, tokens, limits=limits), host=host, port=port, name="intake")
