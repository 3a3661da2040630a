"""The live loop's commands: ``watch``, ``decide``, ``market``, ``insights``, ``deliveries`` and ``explain``."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from commons.settings import Settings
from edge_insights.environment import settings_from_env as _settings
from edge_insights.environment import stdout_console

if TYPE_CHECKING:
    from live.store import LiveStore

console = stdout_console()
WEBHOOK_SECRET_ENV = "EDGE_INSIGHTS_WEBHOOK_SECRET"
DELIVERY_STATES = ("pending", "delivered", "dead")
# The market builds every product's page path and id up front (~2 s per million on 2 cores).
MAX_MARKET_PRODUCTS = 1_000_000


def _embedded_only(settings: Settings, command: str) -> None:
    """Refuse a command that reads the embedded SQLite store while a Redis broker is configured."""
    if settings.broker is not None:
        typer.echo(f"error: `{command}` reads the embedded live store, but EDGE_INSIGHTS_BROKER names a Redis "
                   "broker: read insights from a watcher's feed (GET /v1/insights)", err=True)
        raise typer.Exit(2)


@contextmanager
def _live_store(settings: Settings, missing: str, *, writable: bool = False) -> Iterator[LiveStore]:
    """The existing live store (:func:`live.store.existing_store`) for the block; a store that is
    missing, damaged or not the live loop's ends the command with one line instead of a traceback.

    Raises:
        typer.Exit: 2, with ``missing`` when there is no store, else why it cannot be read.
    """
    from live.store import StoreUnreadable, existing_store, store_path

    path = store_path(settings.state_dir)
    if not path.exists():
        typer.echo(f"error: no live store at {path}: {missing}", err=True)
        raise typer.Exit(2)
    try:
        yield existing_store(path, writable=writable)
    except StoreUnreadable as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    except sqlite3.DatabaseError as err:  # e.g. a store older than the table asked for, or locked past the wait
        typer.echo(f"error: the live store at {path} cannot be read: {err}", err=True)
        raise typer.Exit(2) from None


def _pods(values: list[str]) -> dict[str, str]:
    from commons.contracts import CONTRACTS
    from crawlers.intake.contract import url_problem

    pods: dict[str, str] = {}
    for value in values:
        decision, _, url = value.partition("=")
        if decision not in CONTRACTS or not url.startswith(("http://", "https://")):
            raise typer.BadParameter(f"expected DECISION=URL with DECISION one of {', '.join(CONTRACTS)}, "
                                     f"got {value!r}", param_hint="'--pod'")
        if problem := url_problem(url):
            raise typer.BadParameter(f"{decision}: {problem}", param_hint="'--pod'")
        if decision in pods:
            raise typer.BadParameter(f"{decision} is given twice", param_hint="'--pod'")
        pods[decision] = url.rstrip("/")
    return pods


def _port_free(port: int) -> None:
    """Refuse a feed port another process listens on (the feed would fail in its thread while the
    watcher went on printing that port's URL)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: connections of a watcher that just died (TIME_WAIT) do not hold the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as err:
            raise typer.BadParameter(f"127.0.0.1:{port} is taken ({err.strerror})",
                                     param_hint="'--feed-port'") from None


def pod_tokens(settings: Settings, scope: str = "decide"):
    """The live loop's token source: the client credential of EDGE_INSIGHTS_TOKEN_URL, _CLIENT_ID and
    _CLIENT_SECRET (renewed before expiry, asking ``scope``), else the fixed EDGE_INSIGHTS_POD_TOKEN
    (whatever scopes it holds), else None."""
    from commons.token_client import StaticToken, credentials_from_env

    try:
        credentials = credentials_from_env(os.environ, scope=scope)
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    if credentials is not None:
        return credentials
    return StaticToken(settings.pod_token) if settings.pod_token else None


def watch(sitemap: str = typer.Option(..., help="the shop's sitemap.txt (one product URL a line), e.g. the "
                                                "URL `edge-insights market` prints"),
          pod: list[str] = typer.Option(None, help="DECISION=URL of an edge pod (repeat per decision; "
                                                  "not with --no-decider)"),
          rate: float = typer.Option(20.0, min=0.01, help="revisit budget, requests per second"),
          policy: str = typer.Option("learned", help="revisit policy: learned | round-robin"),
          politeness: float = typer.Option(0.0, min=0.0, help="minimum seconds between two requests to one host"),
          day_seconds: float = typer.Option(86_400.0, min=0.001, help="wall seconds per day of the shop's clock "
                                                                       "(an accelerated replay's --seconds-per-tick)"),
          duration: float = typer.Option(None, min=0.1, help="stop after this many seconds (default: on Ctrl-C)"),
          feed_port: int = typer.Option(0, min=0, max=65535, help="insight feed port on 127.0.0.1 (0: free)"),
          cooldown: float = typer.Option(600.0, min=0.0, help="seconds a product is not re-alerted for a decision"),
          inbox: Path = typer.Option(None, file_okay=False, help="take pushed batches from the intake webhook's "
                                                                 "inbox as they land (e.g. <state>/inbox)"),
          webhook: list[str] = typer.Option([], help="[FILTER,…=]URL of a webhook subscriber (repeat per "
                                                     "subscriber); FILTER: a decision or `alerts`, e.g. "
                                                     "price_spike,alerts=https://hooks.example/in"),
          decider: bool = typer.Option(True, "--decider/--no-decider",
                                       help="decide in this process, or only capture (scale-out: run "
                                            "`edge-insights decide` processes beside)"),
          ) -> None:
    """Watch product pages and turn every change into insights (the live loop).

    Revisits pages under the request budget, captures changes against the last known state,
    asks the edge pods, and publishes insights at http://127.0.0.1:FEED_PORT/v1/insights/stream
    (Server-Sent Events). The pods' bearer tokens come from the token endpoint for the client named
    by EDGE_INSIGHTS_TOKEN_URL, EDGE_INSIGHTS_CLIENT_ID and EDGE_INSIGHTS_CLIENT_SECRET (renewed
    before they expire), or one fixed token from EDGE_INSIGHTS_POD_TOKEN; the change and insight
    streams are the embedded SQLite store, or Redis when EDGE_INSIGHTS_BROKER=redis://… is set.
    Each --webhook subscriber gets every new insight it filters for as a signed POST (Standard
    Webhooks), retried until delivered or dead; the signing secret (whsec_ + base64) comes from
    EDGE_INSIGHTS_WEBHOOK_SECRET. Prints a JSON
    summary at the end: the store's counts (products, visits, changes, insights, deliveries: the
    whole state folder's, earlier runs included), then this run's own: `this_run` (its counters:
    pages by outcome, pushed, changes and insights by decision, webhook attempts), pending_at_stop,
    undelivered_at_stop, watched_s, finish_reason, run_id; `insights --since` lists this run's.
    """
    # Before the imports: they load torch, which makes its cache folder in the state folder.
    _settings()
    from data_quality.pii_tagger import TaggerMissingError, TaggerUnreadableError
    from live.broker import BrokerError
    from live.watcher import POLICIES, Watcher, WatchConfig, WatcherLockError
    from live.webhooks import parse_subscriber, signer

    from crawlers.intake.contract import url_problem

    if policy not in POLICIES:
        raise typer.BadParameter(f"choose one of {', '.join(POLICIES)}", param_hint="'--policy'")
    if problem := url_problem(sitemap):
        raise typer.BadParameter(problem, param_hint="'--sitemap'")
    if feed_port:
        _port_free(feed_port)
    if decider and not pod:
        raise typer.BadParameter("name at least one DECISION=URL, or watch with --no-decider", param_hint="'--pod'")
    secret = os.environ.get(WEBHOOK_SECRET_ENV)
    if webhook:
        try:
            urls = [parse_subscriber(spec).url for spec in webhook]
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="'--webhook'") from None
        if len(set(urls)) < len(urls):
            raise typer.BadParameter("a subscriber URL is given twice", param_hint="'--webhook'")
        try:
            signer(secret or "")
        except ValueError as err:
            typer.echo(f"error: {WEBHOOK_SECRET_ENV}: {err}", err=True)
            raise typer.Exit(2) from None
    settings = _settings(ensure=True)
    config = WatchConfig(sitemap_url=sitemap, pods=_pods(pod or []), state_dir=settings.state_dir,
                         warehouse_path=settings.warehouse_path, rate=rate, policy=policy, politeness_s=politeness,
                         day_s=day_seconds, duration_s=duration, feed_port=feed_port, cooldown_s=cooldown, inbox=inbox,
                         tokens=pod_tokens(settings), webhooks=tuple(webhook), webhook_secret=secret,
                         broker=settings.broker, decide=decider)
    try:
        watcher = Watcher(config)
    except (BrokerError, WatcherLockError, TaggerMissingError, TaggerUnreadableError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    outcome = watcher.run(on_ready=lambda feed: typer.echo(f"watching {sitemap}; insight feed on "
                                                           f"{feed}/v1/insights/stream", err=True))
    typer.echo(json.dumps(outcome, default=str))
    if outcome["finish_reason"].startswith("sitemap"):
        typer.echo(f"error: nothing watched: {outcome['finish_reason']} ({sitemap})", err=True)
        raise typer.Exit(2)


def decide(pod: list[str] = typer.Option(..., help="DECISION=URL of an edge pod (repeat per decision)"),
           duration: float = typer.Option(None, min=0.1, help="stop after this many seconds (default: on Ctrl-C "
                                                             "or SIGTERM)"),
           cooldown: float = typer.Option(600.0, min=0.0, help="seconds a product is not re-alerted for a decision"),
           consumer: str = typer.Option(None, help="this decider's name in the Redis consumer group (default "
                                                   "host:pid); restarted under the same name it resumes its "
                                                   "unsettled changes at once"),
           visibility: float = typer.Option(60.0, min=1.0, help="seconds a claimed change may stay unsettled "
                                                               "before another decider takes it over (Redis)"),
           ) -> None:
    """Decide captured changes alone, beside `watch --no-decider` processes (the live loop, scaled out).

    With EDGE_INSIGHTS_BROKER=redis://… any number of decide processes share the change stream
    (each change is decided by one of them; a dead one's changes are taken over after
    --visibility seconds) and publish every insight once. Without it, one decide process decides
    the embedded store of the state folder. Prints a JSON summary at the end.
    """
    from live.broker import BrokerError, open_broker, redacted
    from live.decide import Decider
    from live.scaleout import run_decider_until_signalled
    from live.store import store_path

    settings = _settings(ensure=True)
    pods = _pods(pod)
    try:
        broker = open_broker(settings.broker, store_path(settings.state_dir), consumer=consumer,
                             visibility_s=visibility)
    except BrokerError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    worker = Decider(broker, pods, tokens=pod_tokens(settings), cooldown_s=cooldown)
    source = redacted(settings.broker) if settings.broker else store_path(settings.state_dir)
    typer.echo(f"deciding {', '.join(pods)} from {source}", err=True)
    typer.echo(json.dumps(run_decider_until_signalled(broker, worker, duration), default=str))


def market(seconds_per_tick: float = typer.Option(2.0, min=0.001, help="wall seconds per replay day"),
           start_tick: int = typer.Option(0, min=0, help="replay day the clock starts at"),
           products: int = typer.Option(None, min=1, max=MAX_MARKET_PRODUCTS,
                                        help="products (clones beyond the mirror's books)"),
           duration: float = typer.Option(None, min=0.1, help="stop after this many seconds"),
           ) -> None:
    """Serve the live market replay: stable product URLs whose pages move with real price series."""
    from crawlers.live_market import LiveMarket, serve_live_market
    from crawlers.replay import MarketReplay

    settings = _settings()
    try:
        live = LiveMarket(MarketReplay(settings.data_dir), seconds_per_tick=seconds_per_tick, start_tick=start_tick,
                          n_products=products)
    except FileNotFoundError as err:
        typer.echo(f"error: {err} (EDGE_INSIGHTS_DATA_DIR={settings.data_dir})", err=True)
        raise typer.Exit(2) from None
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    with serve_live_market(live) as base:
        typer.echo(f"live market: {base}sitemap.txt", err=True)
        deadline = None if duration is None else time.monotonic() + duration
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


def _instant(value: str, param_hint: str) -> float:
    """An ISO-8601 instant as epoch seconds; one without an offset is read as UTC.

    Raises:
        typer.BadParameter: not an ISO-8601 date or date-time.
    """
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not an ISO-8601 instant: {value[:40]!r} (e.g. 2026-12-01T12:00:00+01:00)",
                                 param_hint=param_hint) from None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def _shown(kind: str, value):
    """A change's value as the table shows it: stock levels are counted in units, so a level the
    store holds as a float (the pod's input is floats) shows as the integer it is; prices as stored."""
    if kind == "stock" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def insights(decision: str = typer.Option(None, help="only this decision"),
             since: str = typer.Option(None, help="only insights published at or after this ISO-8601 instant"),
             alerts: bool = typer.Option(False, help="only alerts"),
             limit: int = typer.Option(30, min=1, max=1000, help="newest N"),
             ) -> None:
    """List recent insights of the live loop as a table (newest last), each with the id ``explain`` takes."""
    from commons.contracts import CONTRACTS

    if decision is not None and decision not in CONTRACTS:
        raise typer.BadParameter(f"choose one of {', '.join(sorted(CONTRACTS))}", param_hint="'--decision'")
    published_from = None if since is None else _instant(since, "'--since'")
    settings = _settings()
    _embedded_only(settings, "insights")
    where, params = ["1 = 1"], []
    if decision:
        where.append("decision = ?")
        params.append(decision)
    if published_from is not None:
        where.append("published >= ?")
        params.append(published_from)
    if alerts:
        where.append("alert = 1")
    with _live_store(settings, "run `edge-insights watch` first") as store:
        rows = store.query(f"SELECT * FROM insights WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?",
                           (*params, limit))[::-1]
    table = Table("insight", "published (UTC)", "decision", "label", "score", "route", "alert", "product", "change",
                  "latency ms")
    table.columns[0].no_wrap = True  # the id `explain` takes, whole
    for r in rows:
        change = (f"{_shown(r['kind'], json.loads(r['before']))} → {_shown(r['kind'], json.loads(r['after']))}"
                  if r["kind"] != "review" else "new review")
        published = r["published_at"][:19].replace("T", " ")
        table.add_row(r["insight_id"], published, r["decision"], r["label"], f"{r['score']:.2f}", r["route"],
                      "yes" if r["alert"] else "", r["product_id"] or "", f"{r['kind']}: {change}",
                      f"{(r['published'] - r['received_at']) * 1000:.0f}")
    console.print(table)
    console.print(f"{len(rows)} insight(s) shown")


def deliveries(state: str = typer.Option(None, help="only this state: pending | delivered | dead"),
               limit: int = typer.Option(30, min=1, max=1000, help="newest N"),
               ) -> None:
    """List the live loop's webhook deliveries as a table (newest last): subscriber, insight, its
    decision, state, tries and the last error (a dead one's is why it was given up)."""
    if state is not None and state not in DELIVERY_STATES:
        raise typer.BadParameter(f"choose one of {', '.join(DELIVERY_STATES)}", param_hint="'--state'")
    with _live_store(_settings(), "run `edge-insights watch --webhook URL` first") as store:
        rows = store.deliveries(state, limit)
    table = Table("subscriber", "insight", "decision", "state", "tries", "delivered", "last error")
    for r in rows:
        delivered = ("" if r["delivered_at"] is None
                     else datetime.fromtimestamp(r["delivered_at"], timezone.utc).isoformat()[11:23])
        table.add_row(r["subscriber"], r["insight_id"], r["decision"], r["state"], str(r["tries"]), delivered,
                      r["last_error"] or "")
    console.print(table)
    console.print(f"{len(rows)} deliver{'y' if len(rows) == 1 else 'ies'} shown")


def redeliver(subscriber: str = typer.Option(None, help="only this subscriber's (its webhook URL, as "
                                                        "`deliveries` lists it)")) -> None:
    """Put dead webhook deliveries back in the queue: a running watcher with that --webhook sends
    them at once, else the next one does. Each keeps its webhook-id, so a receiver deduplicates."""
    with _live_store(_settings(), "nothing was ever delivered", writable=True) as store:
        known = {row["subscriber"] for row in store.query("SELECT DISTINCT subscriber FROM deliveries")}
        if subscriber is not None and subscriber not in known:
            raise typer.BadParameter(f"no delivery to {subscriber[:200]!r} (see `edge-insights deliveries`)",
                                     param_hint="'--subscriber'")
        count = store.redeliver(subscriber)
    console.print(f"{count} dead deliver{'y' if count == 1 else 'ies'} queued again", highlight=False)


# Insight ids and signal digests are hex digests (64 characters); anything much longer is no key.
MAX_KEY_CHARS = 128


def explain(key: str = typer.Argument(..., help="an insight id or a signal digest")) -> None:
    """Show the exact input the model saw for an insight, rebuilt from the warehouse and digest-checked,
    with the bundle, the route, why it took that route (route_reason) and the edge and central answers from
    the decision log.

    Exit 1 when the rebuilt input does not match: `mismatch_reason` says why (e.g. the watcher has not
    flushed the change to the warehouse yet), in the report and in one line on stderr."""
    from edge_insights.cli import _required_text
    from live.explain import ExplainError, explain_insight

    _required_text(key, "'KEY'")
    if len(key) > MAX_KEY_CHARS or key != key.strip():
        raise typer.BadParameter(f"an insight id or signal digest: at most {MAX_KEY_CHARS} characters, no "
                                 "surrounding white space", param_hint="'KEY'")
    settings = _settings()
    _embedded_only(settings, "explain")
    try:
        report = explain_insight(settings, key)
    except ExplainError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    console.print_json(json.dumps(report, default=str))
    if not report["digest_matches"]:
        typer.echo(f"error: the rebuilt input does not match the insight's digest: {report['mismatch_reason']}",
                   err=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the live loop's commands to the top-level app."""
    app.command("watch")(watch)
    app.command("decide")(decide)
    app.command("market")(market)
    app.command("insights")(insights)
    app.command("deliveries")(deliveries)
    app.command("redeliver")(redeliver)
    app.command("explain")(explain)
