"""``edge-insights``: the one command line (demo, serve, evaluate, drift-drill, report, ui, crawl, intake,
token, audit, extract, parse-price, scrub, privacy, erase, and the live loop's watch, market,
insights, deliveries, explain). Commands import their rooms lazily, so ``serve`` never loads torch or Dagster."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from commons.settings import Settings, apply_library_opt_outs
from edge_insights.drill_cli import register as register_drill
from edge_insights.environment import point_torch_cache_from_env, stdout_console
from edge_insights.environment import settings_from_env as _settings
from edge_insights.help_text import reflow_commands
from edge_insights.live_cli import register as register_live
from edge_insights.privacy import erase, privacy_app
from edge_insights.revoke import release_keys, revoke, revoke_key, revoke_refresh
from edge_insights.progress import Stages

# Before any command imports a library that reads them (``scrub`` loads onnxruntime on import, and
# torch through spaCy).
apply_library_opt_outs()
point_torch_cache_from_env()

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Harvested market signals → distilled micro-models → decisions at the edge.")
intake_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Pushed signal intake.")
app.add_typer(intake_app, name="intake")
token_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="Short-lived scoped tokens for pod endpoints (EdDSA JWTs).")
app.add_typer(token_app, name="token")
audit_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="Tamper-evident audit logs: hash-chained, with signed checkpoints.")
app.add_typer(audit_app, name="audit")
app.add_typer(privacy_app, name="privacy")
app.command("erase")(erase)
app.command("revoke")(revoke)
app.command("revoke-key")(revoke_key)
app.command("revoke-refresh")(revoke_refresh)
app.command("release-keys")(release_keys)
register_live(app)
register_drill(app)
# Piped output (CI logs, `make demo > log`) gets a wide fixed width so the summary tables stay readable.
console = stdout_console()
SLOTS = ("champion", "challenger", "central")


def _control_audit(settings: Settings):
    """The control plane's audit log of ``settings``; an unreadable audit key is a usage error."""
    from commons.control_audit import ControlAudit
    from commons.token_keys import TokenKeyError

    try:
        return ControlAudit(settings.audit_dir)
    except TokenKeyError as err:
        raise _fail(str(err)) from None


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _required_text(value: str, param_hint: str) -> str:
    """``value`` when it holds a non-blank UTF-8 text, for values stored or signed (reasons, key ids,
    subjects).

    Raises:
        typer.BadParameter: blank, or not UTF-8 (bytes the locale could not decode reach Python as
            lone surrogates, which no store, list or token can hold).
    """
    if not value.strip():
        raise typer.BadParameter("must not be blank", param_hint=param_hint)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise typer.BadParameter("must be valid UTF-8", param_hint=param_hint) from None
    return value


@app.command()
def demo(preset: str = typer.Option("demo", help="training preset: tiny | demo | full"),
         max_pages: int = typer.Option(0, min=0, help="cap on crawl requests (0 = crawl the whole mirror)"),
         max_reviews: int = typer.Option(0, min=0, help="rows read per review file (0 = all)"),
         replay_days: int = typer.Option(30, help="market-replay ticks (simulated days) to crawl into history"),
         history_days: int = typer.Option(0, min=0, help="days of price history to backfill (0 = all)"),
         shadow_rate: float = typer.Option(0.2, min=0.0, max=1.0,
                                           help="share of edge decisions also scored by the central model"),
         live_seconds: float = typer.Option(60.0, min=0.0, help="seconds the live loop runs (0 = skip it)")
         ) -> None:
    """Load history, run the whole job on real input, serve every decision, print a summary."""
    from training.config import PRESETS

    # Checked before anything runs: the jobs would otherwise fail only at their training step.
    if preset not in PRESETS:
        raise typer.BadParameter(f"unknown preset {preset!r}; choose one of {', '.join(sorted(PRESETS))}",
                                 param_hint="'--preset'")
    from edge_insights.demo import drift_now, run_job, serve_and_decide, summarise, write_summary
    from edge_insights.drift_drill import DRILL_DECISION, drift_drill, review_phases
    from edge_insights.links import Links
    from edge_insights.report import print_summary
    from orchestration.partitions import CRAWL_PARTITIONS, PRICE_HISTORY_PARTITIONS, REPLAY_PARTITIONS
    from training.decisions import DECISIONS

    settings = _settings(ensure=True, preset=preset, max_pages=max_pages, max_reviews=max_reviews)
    if not (settings.data_dir / "books_toscrape").is_dir():
        console.print(f"[red]data folder not found: {settings.data_dir}[/] (set EDGE_INSIGHTS_DATA_DIR)")
        raise typer.Exit(2)
    console.print(f"state folder [bold]{settings.state_dir}[/], data folder [bold]{settings.data_dir}[/]")
    from commons.token_keys import signing_keys

    # Signed from the first event on: the jobs' promotions and deployments and the pods' decision logs.
    if not signing_keys(settings.audit_dir):
        _rotate_and_record("audit", 100, "audit key for this state folder's logs:", "JWKS for `audit verify`")
    history_keys = PRICE_HISTORY_PARTITIONS.get_partition_keys()
    replay_keys = REPLAY_PARTITIONS.get_partition_keys()[:max(replay_days, 1)]
    stages = Stages(console)
    runs = {}
    for job_name, keys in (("price_history_backfill", history_keys[-history_days:] if history_days else history_keys),
                           ("market_replay", replay_keys)):
        with stages.stage(f"{job_name}: {len(keys)} partitions"):
            runs[job_name] = run_job(job_name, settings, partition_range=(keys[0], keys[-1]))
    with stages.stage("edge_insights_job"):
        def on_event(event) -> None:
            if event.event_type_value == "STEP_START":
                stages.step(f"edge_insights_job: {event.step_key}")

        job = run_job("edge_insights_job", settings, on_event=on_event,
                      partition_key=CRAWL_PARTITIONS.get_last_partition_key())
    for outcome in (*runs.values(), job):
        if not outcome.success:
            console.print(f"[red]run {outcome.run_id} failed[/]")
            for failure in outcome.failures:
                console.print(f"  {failure}")
            raise typer.Exit(1)
    from datetime import datetime, timezone

    from edge_insights.pods import running_token_plane
    from edge_insights.security_summary import security_summary

    served = {}
    auth_since = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    # One token endpoint for every client from here on: the pods, the demo, the drill, the watcher.
    with running_token_plane(settings) as plane:
        for name in DECISIONS:
            if not job.assets.get(f"{name}/deployed_bundle", {}).get("deployed"):
                promotion = job.assets[f"{name}/registered_model"]["promotion"]
                console.print(f"[yellow]{name}: not served — {promotion}[/]")
                continue
            with stages.stage(f"serving {name}: central + edge pods, held-out examples over HTTP"):
                served[name] = serve_and_decide(settings, name, shadow_rate, tokens=plane)
        drill = None
        if DRILL_DECISION in served:
            with stages.stage(f"drift drill: {DRILL_DECISION}, in-distribution then shifted reviews"):
                drill = drift_drill(settings, DRILL_DECISION, review_phases(settings.data_dir), tokens=plane)
        live = None
        live_decisions = tuple(d for d in ("price_spike", "urgent_inventory", "negative_review") if d in served)
        if live_seconds and live_decisions:
            from edge_insights.live_run import run_live_loop

            with stages.stage(f"live loop: accelerated replay → watcher → pods → insight feed "
                              f"({live_seconds:g} s)"):
                live = run_live_loop(settings, duration_s=live_seconds, start_tick=len(replay_keys),
                                     decisions=live_decisions, tokens=plane, shadow_rate=shadow_rate)
        # After the live loop, whose pods log to the same decision logs: the divergence report and the
        # drift test then read what the drift sensor will read when someone switches it on.
        with stages.stage("feedback_job: edge-vs-central divergence"):
            feedback = run_job("feedback_job", settings)
        drift = drift_now(settings, list(served))
        revocation = None
        if served:
            from edge_insights.revocation_drill import run_revocation_drill

            target = DRILL_DECISION if DRILL_DECISION in served else next(iter(served))
            with stages.stage(f"revocation drill: {target}'s champion withdrawn from a pod under load"):
                revocation = run_revocation_drill(settings, target, tokens=plane)
    # After serving, the drill and the live loop, so the decision logs the pods wrote are aged too; cheap (SQL
    # deletes, a file walk).
    with stages.stage("retention_job: privacy policy applied"):
        retention = run_job("retention_job", settings)
    history = {"price_history": runs["price_history_backfill"], "market_replay": runs["market_replay"]}
    with stages.stage("security summary: tokens issued, requests refused, audit verify"):
        security = {**security_summary(settings, auth_since, served), "revocation_drill": revocation}
    with stages.stage("PII scrubber scored on the labelled samples and real reviews"):
        from edge_insights.pii_scorecard import pii_scorecard

        pii_scores = pii_scorecard(settings.data_dir)
    summary = summarise(settings, history, job, served, feedback, retention, drill, live, security, pii_scores,
                        drift)
    print_summary(console, summary, write_summary(settings, summary))
    console.print("Where to look (`make ui`):", highlight=False)
    for line in [f"Dagster run of edge_insights_job  {Links().dagster_run(job.run_id)}", *Links().for_state(settings)]:
        console.print(f"  {line}", highlight=False, soft_wrap=True)


@app.command()
def serve(decision: str = typer.Option("negative_review", help="decision the pod serves"),
          slot: str = typer.Option("champion", help="deploy slot: champion (edge) or central"),
          port: int = typer.Option(8080, min=1, max=65535, help="TCP port"),
          host: str = typer.Option("127.0.0.1", help="interface to bind"),
          central_url: str = typer.Option("", help="central pod URL (http or https) for low-confidence cases"),
          shadow_rate: float = typer.Option(0.0, help="share (0-1) of edge decisions shadow-scored by central"),
          threads: int = typer.Option(1, min=1, help="onnxruntime intra-op threads"),
          deploy_dir: Path = typer.Option(None, help="serve this bundle folder instead of the deployed "
                                                     "<state>/deploy/DECISION/SLOT"),
          decision_log_dir: Path = typer.Option(None, help="decision log root (default <state>/decision_log)"),
          max_body_bytes: int = typer.Option(None, help="largest request body read; larger ones get 413"),
          jwks: Path = typer.Option(None, exists=True, dir_okay=False,
                                    help="JWKS of the keys tokens are checked with (re-read when it "
                                         "changes, e.g. <state>/tokens/jwks.json); without it the pod "
                                         "answers anyone"),
          issuer: str = typer.Option(None, help="the token issuer accepted (default edge-insights); needs --jwks"),
          replay_protection: bool = typer.Option(False, help="accept each token once (its jti); needs --jwks"),
          audit_key_dir: Path = typer.Option(None, file_okay=False,
                                             help="folder of the audit keys signing the decision log's "
                                                  "checkpoints (default <state>/audit; none there: unsigned)"),
          region: str = typer.Option(None, help="the pod's storage region (eu | us): records holding a field "
                                                "the privacy policy does not allow there are refused (451); "
                                                "default: no residency check"),
          revocation_list: str = typer.Option(None, help="revocation list to obey: a file or an http(s) URL "
                                                         "(default <state>/revocation/list.jwt)"),
          revocation_jwks: Path = typer.Option(None, help="JWKS the list must be signed by (default --jwks, "
                                                          "else <state>/tokens/jwks.json)"),
          poll_s: float = typer.Option(2.0, min=0.05, help="seconds between polls of the revocation list and "
                                                           "the deploy folder (live swap)")
          ) -> None:
    """Serve a deployed bundle with a pod (onnxruntime only; no torch is imported).

    With --jwks every decision request needs a bearer token for this decision with scope
    ``decide``, and /metrics one with scope ``metrics``; /healthz stays open; a request marked
    ``Edge-Insights-Traffic: replay`` needs scope ``replay`` too (a pod without --jwks refuses the
    mark). An edge pod asks its central pod with its own tokens when EDGE_INSIGHTS_TOKEN_URL,
    EDGE_INSIGHTS_CLIENT_ID and EDGE_INSIGHTS_CLIENT_SECRET name a client of the token endpoint
    (`token client`, `token serve`); a client that may also have scope ``replay`` passes a
    replayed request's mark on to central.

    The decision log is hash-chained; its checkpoints are signed with the newest audit key
    (``edge-insights audit keygen``), or written unsigned with a warning when there is none.

    A pod that must not start (bundle or release refused, bad port, threads, body limit or shadow
    rate, a central URL that is not a central pod of this decision, a JWKS without usable keys, an
    unreadable audit key, a region unknown or one that may not hold a field the decision requires)
    prints one line ``refusing to start: <reason>`` and exits with status 2.
    """
    import os

    from commons.token_client import credentials_from_env
    from commons.tokens import DEFAULT_ISSUER, SCOPE_DECIDE, SCOPE_REPLAY
    from serving.app import DEFAULT_MAX_BODY_BYTES
    from serving.auth import PodAuth
    from commons.revocation_list import default_list_path
    from commons.token_keys import jwks_path
    from serving.pod import START_REFUSALS, run_pod
    from serving.revocation import WatchSettings
    from serving.router import check_central_url

    if jwks is None and (issuer is not None or replay_protection):
        raise typer.BadParameter("--issuer and --replay-protection need --jwks", param_hint="'--jwks'")
    auth = (PodAuth(jwks.resolve(), issuer=DEFAULT_ISSUER if issuer is None else issuer,
                    replay_protection=replay_protection) if jwks is not None else None)

    if central_url:
        try:
            check_central_url(central_url)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="'--central-url'") from None
    try:
        central_tokens = credentials_from_env(os.environ)
        # The same credential, for marking a replayed request's calls to central: a registration
        # without scope replay makes only those calls fail (fallback, central_error says why).
        replay_tokens = credentials_from_env(os.environ, scope=f"{SCOPE_DECIDE} {SCOPE_REPLAY}")
    except ValueError as err:
        raise _fail(str(err)) from None
    from commons.contracts import CONTRACTS

    if deploy_dir is None and decision not in CONTRACTS:
        raise typer.BadParameter(f"unknown decision {decision!r}; choose one of {', '.join(CONTRACTS)}",
                                 param_hint="'--decision'")
    if deploy_dir is None and slot not in SLOTS:
        raise typer.BadParameter(f"unknown slot {slot!r}; choose one of {', '.join(SLOTS)}", param_hint="'--slot'")
    settings = _settings()
    deploy_dir = deploy_dir or settings.deploy_dir / decision / slot
    if not deploy_dir.is_dir():
        from edge_insights.not_deployed import not_deployed

        console.print(f"[red]error:[/] {not_deployed(settings, decision, deploy_dir)}", highlight=False)
        raise typer.Exit(2)
    from commons.token_keys import TokenKeyError, signing_keys

    try:
        audit_keys = signing_keys(audit_key_dir or settings.audit_dir)
        run_pod(deploy_dir, trust_dir=settings.trust_dir, host=host, port=port, central_url=central_url or None,
                shadow_rate=shadow_rate,
                decision_log_dir=decision_log_dir or settings.decision_log_dir, threads=threads,
                max_body_bytes=DEFAULT_MAX_BODY_BYTES if max_body_bytes is None else max_body_bytes, auth=auth,
                audit_key=audit_keys[0] if audit_keys else None, region=region,
                watch=WatchSettings(revocation_list or str(default_list_path(settings.state_dir)),
                                    revocation_jwks or jwks or jwks_path(settings.tokens_dir), poll_s),
                central_tokens=central_tokens, replay_tokens=replay_tokens)
    except (*START_REFUSALS, TokenKeyError) as err:
        # Plain echo, not the rich console: a refusal is one line, never wrapped or boxed.
        typer.echo(f"refusing to start: {err}", err=True)
        raise typer.Exit(2) from None


@app.command()
def evaluate(decision: str = typer.Argument(..., help="negative_review | price_spike | urgent_inventory"),
             data_dir: Path = typer.Option(..., "--data-dir", exists=True, file_okay=False,
                                           help="folder laid out like the matching folder of shared/data"),
             pod: str = typer.Option(None, help="score a running pod at this URL instead (its tokens from "
                                                "EDGE_INSIGHTS_TOKEN_URL, _CLIENT_ID and _CLIENT_SECRET, or "
                                                "EDGE_INSIGHTS_POD_TOKEN)"),
             replay: bool = typer.Option(False, help="with --pod: send the examples as replay traffic, kept "
                                                     "out of the pod's drift test (the token needs scope "
                                                     "replay)")) -> None:
    """Score the deployed champion (or a running pod) on your own data; prints one JSON line."""
    import csv
    import json

    import httpx

    from commons.bundle_signature import BundleRefused
    from commons.errors import BundleError
    from commons.token_client import TokenFetchError
    from commons.tokens import SCOPE_DECIDE, SCOPE_REPLAY
    from commons.traffic import PRODUCTION, REPLAY
    from edge_insights.evaluate import evaluate as run_evaluation
    from edge_insights.live_cli import pod_tokens
    from training.decisions import DECISIONS

    if decision not in DECISIONS:
        console.print(f"[red]unknown decision {decision!r}[/]; choose one of {', '.join(DECISIONS)}")
        raise typer.Exit(2)
    try:
        settings = _settings()
        scope = f"{SCOPE_DECIDE} {SCOPE_REPLAY}" if replay else SCOPE_DECIDE
        result = run_evaluation(decision, data_dir, settings, pod_url=pod,
                                tokens=pod_tokens(settings, scope) if pod else None,
                                traffic=REPLAY if replay else PRODUCTION)
    except FileNotFoundError as err:
        console.print(f"[red]{err}[/]")
        raise typer.Exit(2) from err
    except BundleRefused as err:
        raise _fail(f"the deployed champion of {decision} is refused ({err.reason}): {err}") from None
    except BundleError as err:
        raise _fail(f"the deployed champion of {decision} cannot be scored: {err}") from None
    except (ValueError, OSError, csv.Error) as err:
        raise _fail(f"{data_dir} cannot be read as {decision} data: {err}") from None
    except httpx.HTTPStatusError as err:
        hint = (" (set EDGE_INSIGHTS_TOKEN_URL, EDGE_INSIGHTS_CLIENT_ID and EDGE_INSIGHTS_CLIENT_SECRET, or "
                "EDGE_INSIGHTS_POD_TOKEN, to a token the pod accepts)" if err.response.status_code in (401, 403)
                else "")
        raise _fail(f"pod {pod} answered {err.response.status_code} {err.response.reason_phrase}{hint}") from None
    except httpx.HTTPError as err:
        raise _fail(f"pod {pod}: {err}") from None
    except TokenFetchError as err:
        raise _fail(f"no token for pod {pod}: {err}") from None
    typer.echo(json.dumps(result))


@app.command()
def report() -> None:
    """Execute the notebooks of notebooks/ against the state folder; HTML into <state>/report/."""
    from edge_insights.notebooks import render_report

    settings = _settings(ensure=True)
    for path in render_report(settings.state_dir, settings.data_dir):
        console.print(str(path), highlight=False, soft_wrap=True)


@app.command()
def ui(dagster_port: int = typer.Option(3000, min=1, max=65535),
       mlflow_port: int = typer.Option(5000, min=1, max=65535)) -> None:
    """Dagster UI and MLflow UI on loopback over the state folder; Ctrl-C (or SIGTERM) stops both.
    Prints the pages worth opening, then "… UI ready on URL" on stderr once each answers."""
    from edge_insights.links import Links
    from edge_insights.ui import run_ui

    if dagster_port == mlflow_port:
        raise typer.BadParameter("the Dagster and MLflow ports must differ", param_hint="'--mlflow-port'")
    from commons.net import port_in_use

    for port, hint in ((dagster_port, "'--dagster-port'"), (mlflow_port, "'--mlflow-port'")):
        if port_in_use(port):
            raise typer.BadParameter(f"port {port} on 127.0.0.1 is in use", param_hint=hint)
    settings = _settings(ensure=True)
    links = Links(dagster=f"http://127.0.0.1:{dagster_port}", mlflow=f"http://127.0.0.1:{mlflow_port}")
    for line in links.for_state(settings):
        console.print(line, highlight=False, soft_wrap=True)
    raise typer.Exit(run_ui(settings, dagster_port=dagster_port, mlflow_port=mlflow_port))


@app.command()
def extract(pages: list[Path] = typer.Argument(..., exists=True, dir_okay=False,
                                               help="saved product pages (.html or .html.gz)"),
            url: str = typer.Option("", help="the page's URL, for a single page (required then); "
                                             "several pages each take their canonical/og:url, "
                                             "else file://")
            ) -> None:
    """Extract a signal record from saved product pages (one JSON line per page); exit status 1
    when a page holds no product (neither title nor price), lists many, or cannot be read (not
    gzip where named .gz, over the crawl's 5 MiB page limit, inflated, or declaring no charset while
    no single legacy charset reads it: the crawl's encoding_error); the line of a page
    listing many or unreadable is {"page": …, "error": …}, and the other pages are still read."""
    import json

    from crawlers.extraction.charset_guess import CharsetUndecided
    from crawlers.extraction.page import (ListingPage, PageUnreadable, declared_url, extract_product,
                                          read_saved_page)

    if len(pages) == 1 and not url:
        console.print("[red]--url is required for a single page[/]")
        raise typer.Exit(2)
    if len(pages) > 1 and url:
        # One URL for several pages would give them one product_id.
        console.print("[red]--url names one page; with several, each page's canonical/og:url is used[/]")
        raise typer.Exit(2)
    if url and (not url.isprintable() or not url.lower().startswith(("http://", "https://"))):
        raise typer.BadParameter(f"{url!r} is not an http(s) URL", param_hint="'--url'")
    failed = 0
    for page in pages:
        try:
            html = read_saved_page(page)
            page_url = url or declared_url(html) or page.resolve().as_uri()
            record = extract_product(html, page_url)
        except (PageUnreadable, CharsetUndecided) as err:
            print(json.dumps({"page": str(page), "error": str(err)}, ensure_ascii=False))
            typer.echo(f"{page}: {err}", err=True)
            failed += 1
            continue
        except ListingPage as listing:
            print(json.dumps({"page": str(page), "error": str(listing)}, ensure_ascii=False))
            typer.echo(f"{page}: a listing page ({listing.prices} prices), not one product",
                       err=True)
            failed += 1
            continue
        print(json.dumps(record, ensure_ascii=False))
        if record.get("title") is None and record.get("price") is None:
            typer.echo(f"{page}: no product found (no title, no price)", err=True)
            failed += 1
    if failed:
        raise typer.Exit(1)


# A price may start with a minus ("-$5.00"): read it as the text, not as an unknown option.
@app.command("parse-price", context_settings={"ignore_unknown_options": True})
def parse_price(text: str = typer.Argument(..., help='price as shown, e.g. "1.234,56 €"'),
                currency_hint: str = typer.Option("", help="currency to assume when the text "
                                                           "names none or an ambiguous symbol such "
                                                           "as $ (symbol or ISO code)")
                ) -> None:
    """Parse a price string: prints {"amount": "1234.56", "currency": "EUR"} (nulls if absent)."""
    import json

    from crawlers.extraction.currencies import currency_candidates
    from crawlers.extraction.price import parse_price as parse

    # A hint the parser cannot read would be dropped without a word: refuse it instead.
    if currency_hint and parse("0", currency_hint=currency_hint).currency is None:
        candidates = sorted(currency_candidates(currency_hint))
        why = (f"is ambiguous (it may be {', '.join(candidates)})" if len(candidates) > 1
               else "names no currency the parser knows")
        raise typer.BadParameter(f"{currency_hint!r} {why}: give an ISO 4217 code such as EUR, or an "
                                 "unambiguous symbol such as €", param_hint="'--currency-hint'")
    parsed = parse(text, currency_hint=currency_hint or None)
    amount = None if parsed.amount is None else format(parsed.amount, "f")
    print(json.dumps({"amount": amount, "currency": parsed.currency}, ensure_ascii=False))


@app.command()
def crawl(start_url: str = typer.Option(..., help="first listing page"),
          out: Path = typer.Option(..., help="folder for items.jsonl, quarantine.jsonl, stats.json"),
          crawl_id: str = typer.Option(..., help="id stamped on every record and quarantine row"),
          max_pages: int = typer.Option(None, min=1, help="cap on requests (small test slices)"),
          log_file: Path = typer.Option(None, help="Scrapy log file (default stderr)"),
          http_cache: Path = typer.Option(None, help="HTTP cache folder (under the state or output folder)"),
          set_: list[str] = typer.Option([], "--set", help="override a Scrapy setting: NAME=VALUE (repeatable)")
          ) -> None:
    """Crawl the books shop from START_URL in this process (one crawl per process: Twisted's
    reactor cannot restart). Exit 1 when nothing was fetched, when the start page is no listing (a 404, a
    product page, an image: its quarantine row says why), or when a product link did not end as exactly one
    record or quarantine row. Under Dagster Pipes the stats also go to the run's event log."""
    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"{out} is a file, not a folder", param_hint="'--out'")
    if log_file is not None and log_file.is_dir():
        raise typer.BadParameter(f"{log_file} is a folder, not a file", param_hint="'--log-file'")
    if not start_url.lower().startswith(("http://", "https://")):
        raise typer.BadParameter(f"{start_url!r} is not an http(s) URL", param_hint="'--start-url'")
    if not crawl_id.strip():
        raise typer.BadParameter("must not be blank", param_hint="'--crawl-id'")
    overrides = {}
    for item in set_:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            # One line, as check_overrides' refusals below: a usage box buries which --set was wrong.
            raise _fail(f"--set {item[:200]!r}: expected NAME=VALUE")
        overrides[name.strip()] = value
    from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

    from crawlers.run_crawl import check_overrides
    from crawlers.run_crawl import crawl as run

    try:
        check_overrides(overrides)
    except ValueError as err:
        raise _fail(f"--set {err}") from None

    arguments = dict(start_url=start_url, out_dir=out, crawl_id=crawl_id, max_pages=max_pages, log_file=log_file,
                     http_cache=http_cache, overrides=overrides)
    try:
        if PipesEnvVarParamsLoader().is_dagster_pipes_process():
            with open_dagster_pipes() as pipes:
                stats = run(**arguments)
                pipes.log.info(_crawl_summary(crawl_id, stats))
                pipes.report_custom_message(stats)
        else:
            stats = run(**arguments)
    except (OSError, ValueError, TypeError) as err:
        # A setting Scrapy refuses that check_overrides cannot type (no typed default) stops the crawl early.
        raise _fail(f"crawl did not run: {err}", 1) from None
    if stats["pages"] == 0:
        raise _fail(f"nothing was fetched from {start_url} ({stats['finish_reason']}, {stats['errors']} errors; "
                    f"see the quarantine rows in {out})", 1)
    if stats["listing_pages"] == 0:
        raise _fail(f"{start_url} is no listing page ({_quarantine_reason(out, start_url)}): no product was "
                    f"crawled; its quarantine row is in {out}", 1)
    typer.echo(f"{_crawl_summary(crawl_id, stats)}; output in {out}")
    raise typer.Exit(0 if stats["invariant_ok"] else 1)


def _crawl_summary(crawl_id: str, stats: dict) -> str:
    """One line of a finished crawl's figures, as the terminal and Dagster's event log show them."""
    return (f"crawl {crawl_id}: {stats['pages']} pages, {stats['items']} records, {stats['quarantined']} quarantined, "
            f"invariant {'ok' if stats['invariant_ok'] else 'FAILED'}")


def _quarantine_reason(out: Path, url: str) -> str:
    """The reason of ``url``'s row in the crawl output ``out``'s quarantine file, or ``"no quarantine row"``."""
    import json

    from commons.staging import QUARANTINE

    with open(out / QUARANTINE, encoding="utf-8") as rows:
        reasons = [row["reason"] for row in map(json.loads, rows) if row["url"] == url]
    return reasons[0] if reasons else "no quarantine row"


@app.command()
def scrub(text: str = typer.Argument(..., help='text to scrub, or "-" to scrub every line of standard input')
          ) -> None:
    """Scrub PII from TEXT: one JSON line per input, ``{"text": scrubbed, "spans": [{"start", "end",
    "type"}]}`` with offsets into the input (never the removed values). A line too long to scrub, or
    not UTF-8, gets ``{"line": n, "error": reason}`` instead, the others are scrubbed, and the exit
    status is 1."""
    # Before the imports: they load torch, which makes its cache folder in the state folder.
    settings = _settings()
    from data_quality.pii_command import MAX_LINE_CHARS, scrub_command
    from data_quality.pii_engine import default_engine
    from data_quality.pii_tagger import TaggerMissingError, TaggerUnreadableError

    # Input is read as bytes, each line decoded on its own: one that is not UTF-8 is refused by
    # number, not guessed at (U+FFFD in place of "J\xf6rg" would pass a name through mangled).
    # Python hands argv's undecodable bytes over as lone surrogates: surrogateescape gives them back.
    stdin = sys.stdin.buffer if text == "-" else sys.stdin
    given = text if text == "-" else text.encode("utf-8", "surrogateescape")
    # The name tagger the pipeline built in the state folder, as the scrub asset and the watcher use.
    tagger_dir = settings.pii_tagger_dir
    try:
        engine = default_engine(tagger_dir)
        if engine.tagger is None:
            # Fewer names are found without it: say so where the JSON output is not disturbed.
            typer.echo(f"note: no name tagger in {tagger_dir} (the main job builds it): names by the rules alone",
                       err=True)
        _, refused = scrub_command(given, stdin, sys.stdout, engine)
    except (TaggerMissingError, TaggerUnreadableError) as err:
        raise _fail(str(err)) from None
    if refused:
        raise _fail(f"{refused:,} input line(s) over {MAX_LINE_CHARS:,} characters or not UTF-8 were not "
                    "scrubbed (their output lines hold the error)", 1)


@token_app.command("keygen")
def token_keygen(keep: int = typer.Option(2, min=1, help="signing keys kept in the JWKS, the new one included: "
                                                         "2 lets tokens of the previous key live until expiry")
                 ) -> None:
    """Make a new token signing key (Ed25519; in the PKCS#11 token EDGE_INSIGHTS_SIGNING_KEYS names,
    by default the SoftHSM token under <state>/signing, else a PEM file under <state>/tokens/keys),
    sign with it from now on, and rewrite the JWKS pods read (<state>/tokens/jwks.json): running pods pick it
    up without a restart. A published revocation list is re-signed with the new key (next serial, same
    entries), so it stays verifiable when the key that signed it leaves the JWKS."""
    _rotate_and_record("tokens", keep, "new signing key", "JWKS for pods")


def _rotate_and_record(key_set: str, keep: int, made: str, jwks_for: str) -> None:
    """Rotate the ``key_set`` keys (``tokens`` or ``audit``: the folder of that name under the state
    folder) and record the rotation in the control audit log."""
    from commons.key_store import key_store
    from commons.softhsm import TokenError
    from commons.token_keys import TokenKeyError, jwks_path, rotate_keys

    from datetime import datetime, timezone

    from commons.revocation_list import RevocationListError, default_list_path, rotate_with_list

    settings = _settings(ensure=True)
    folder = settings.tokens_dir if key_set == "tokens" else settings.audit_dir
    resigned = None
    try:
        if key_set == "tokens":  # the token keys also sign the revocation list
            key, resigned = rotate_with_list(
                default_list_path(settings.state_dir), folder,
                lambda: rotate_keys(folder, keep=keep, store=key_store(settings)))
        else:
            key = rotate_keys(folder, keep=keep, store=key_store(settings))
    except (TokenKeyError, TokenError, RevocationListError) as err:
        raise _fail(str(err)) from None
    # Opened after the rotation: a new audit key signs the checkpoint of its own rotation.
    audit = _control_audit(settings)
    audit.record("key_rotation", key_set=key_set, kid=key.kid, keep=keep)
    typer.echo(f"{made} {key.kid} ({key.path})")
    typer.echo(f"{jwks_for}: {jwks_path(folder)}")
    if resigned is not None:
        next_update = datetime.fromtimestamp(resigned.next_update, timezone.utc).isoformat(timespec="seconds")
        audit.record("revocation_refresh", serial=resigned.serial, bundles=len(resigned.bundles),
                     kids=len(resigned.kids), signer=key.kid, next_update=next_update)
        typer.echo(f"revocation list re-signed with it: serial {resigned.serial} "
                   f"({default_list_path(settings.state_dir)})")


@token_app.command("issue")
def token_issue(decision: str = typer.Option(..., help="the audience: the decision the pod serves (or a pod id)"),
                scope: list[str] = typer.Option(["decide"],
                                                help="scope granted: decide | metrics | admin | replay (repeatable)"),
                ttl: str = typer.Option("5m", help="lifetime: seconds, or a number with s, m, h or d (at most 1d)"),
                sub: str = typer.Option("edge-insights-cli", help="the subject: who holds the token"),
                issuer: str = typer.Option(None, help="the iss claim (default edge-insights)")) -> None:
    """Print a token signed with the current key: use it as ``Authorization: Bearer <token>``."""
    from commons.pkcs11_uri import Pkcs11Error
    from commons.token_keys import TokenKeyError, current_key
    from commons.tokens import DEFAULT_ISSUER, issue_token, parse_ttl

    try:
        ttl_s = parse_ttl(ttl)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="'--ttl'") from None
    import jwt

    decision, sub = _required_text(decision, "'--decision'"), _required_text(sub, "'--sub'")
    settings = _settings()
    try:
        key = current_key(settings.tokens_dir)
        token = issue_token(key, audience=decision, subject=sub, scopes=scope, ttl_s=ttl_s,
                            issuer=DEFAULT_ISSUER if issuer is None else issuer)
    except (TokenKeyError, Pkcs11Error, ValueError) as err:
        raise _fail(str(err)) from None
    # The audit records who got what, never the token itself (a bearer credential until it expires).
    claims = jwt.decode(token, options={"verify_signature": False})
    _control_audit(settings).record("token_issue", kid=key.kid, **{k: claims[k] for k in (
        "iss", "aud", "sub", "scope", "iat", "exp", "jti")})
    typer.echo(token)


@token_app.command("client")
def token_client(client_id: str = typer.Argument(..., help="the client's id (its tokens' sub), e.g. watcher"),
                 audience: list[str] = typer.Option(..., help="an audience it may get tokens for (repeatable)"),
                 scope: list[str] = typer.Option(
                     ["decide"], help="a scope it may get: decide | metrics | admin | replay (repeatable)")
                 ) -> None:
    """Register a client of the token endpoint and print its new secret, this once (only its scrypt
    hash is kept, in <state>/tokens/clients.json); registering an id again replaces its secret."""
    from commons.client_registry import ClientRegistryError, register_client

    try:
        secret = register_client(_settings(ensure=True).tokens_dir, client_id, audience, scope)
    except ClientRegistryError as err:
        raise _fail(str(err)) from None
    typer.echo(secret)


@token_app.command("serve")
def token_serve(port: int = typer.Option(8095, min=1, max=65535), host: str = typer.Option("127.0.0.1"),
                ttl: str = typer.Option("5m", help="lifetime of each token issued (at most 1d)"),
                issuer: str = typer.Option(None, help="the iss claim (default edge-insights)")) -> None:
    """Serve the token endpoint (POST /oauth/token, OAuth 2.0 client credentials, RFC 6749 §4.4):
    registered clients trade their secret for a short-lived token for one audience."""
    from commons.token_keys import TokenKeyError
    from commons.tokens import DEFAULT_ISSUER, parse_ttl
    from edge_insights.token_endpoint import EndpointConfig, run_token_endpoint

    try:
        ttl_s = parse_ttl(ttl)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="'--ttl'") from None
    settings = _settings(ensure=True)
    try:
        run_token_endpoint(EndpointConfig(settings.tokens_dir, settings.audit_dir, ttl_s,
                                          DEFAULT_ISSUER if issuer is None else issuer), host=host, port=port)
    except TokenKeyError as err:
        raise _fail(str(err)) from None


@audit_app.command("keygen")
def audit_keygen(keep: int = typer.Option(100, min=1, help="audit keys kept in <state>/audit/jwks.json, the new "
                                                          "one included: a key that left it no longer verifies "
                                                          "the checkpoints it signed")) -> None:
    """Make a new audit signing key (Ed25519; in the PKCS#11 token as `token keygen` does, else a PEM
    file under <state>/audit/keys): pods started from now on and the control plane sign log checkpoints with it;
    verifiers trust <state>/audit/jwks.json."""
    _rotate_and_record("audit", keep, "new audit key", "JWKS for verifiers")


@audit_app.command("verify")
def audit_verify(path: str = typer.Argument(..., help="a log file, a log folder, or a folder holding logs "
                                                      "(e.g. the state folder)"),
                 jwks: list[Path] = typer.Option(None, help="JWKS whose keys checkpoints must be signed with "
                                                            "(repeatable; default <state>/audit/jwks.json when "
                                                            "it exists)"),
                 require_signed: bool = typer.Option(False, help="an unsigned checkpoint is tampering")) -> None:
    """Check hash chains and checkpoint signatures: one line per log, the first bad line (file, line,
    kind: edited, deleted, inserted, reordered, truncated, untrusted_key, bad_signature, unsigned).
    Exit 0 when every log is intact, 1 when one is tampered with, 2 when there is nothing to check."""
    from commons.chain_retention import recorded_anchors
    from commons.chain_verify import chained_logs, is_chain_file, verify_file, verify_folder
    from commons.control_audit import CONTROL_LOG, read_events
    from commons.token_keys import TokenKeyError, jwks_path, trusted_keys

    if not path.strip():
        # Path("") is ".": an empty argument (an unset shell variable) must not verify the working directory.
        raise _fail("the path is empty")
    path = Path(path)
    try:
        if not path.exists():
            raise _fail(f"{path} does not exist")
    except OSError as err:  # a name past the file system's limit, say
        raise _fail(f"cannot read {str(path)[:80]}…: {err.strerror}") from None
    if path.is_file() and not is_chain_file(path):
        # A mistyped path is no tampering: a file that never was a chained log is refused as such.
        raise _fail(f"no hash-chained log in {path}")
    if not jwks:
        default = jwks_path(_settings().audit_dir)
        jwks = [default] if default.is_file() else []
    trusted = None
    if jwks:
        trusted = {}
        for document in jwks:
            try:
                trusted.update(trusted_keys(document))
            except TokenKeyError as err:
                raise _fail(str(err)) from None
        if not trusted:
            # Every checkpoint would read as signed by an untrusted key: the key file is at fault, not the log.
            raise _fail(f"no usable Ed25519 key (OKP, crv Ed25519, kid, x) in {', '.join(map(str, jwks))}")
    try:
        # Expired day files are recorded, with the hash the rest of their log starts after, in
        # the control audit log, which is itself verified here when the path holds it.
        anchors = recorded_anchors(read_events(_settings().audit_dir / CONTROL_LOG))
        if path.is_file():
            reports = [(path, verify_file(path, trusted, require_signed=require_signed, anchors=anchors))]
        else:
            reports = [(folder, verify_folder(folder, trusted, require_signed=require_signed, anchors=anchors))
                       for folder in chained_logs(path)]
    except OSError as err:
        raise _fail(f"cannot read {err.filename}: {err.strerror}") from None
    if not reports:
        raise _fail(f"no hash-chained log in {path}")
    if trusted is None:
        typer.echo("no JWKS: checkpoint signatures not checked (give --jwks, or run `edge-insights audit keygen`)")
    for where, report in reports:
        if report.fault is not None:
            typer.echo(f"TAMPERED {report.fault}")
            continue
        typer.echo(f"ok {where}: {report.lines} lines in {len(report.files)} file(s), {report.checkpoints} "
                   f"checkpoints ({report.signed} signed and verified, {report.unsigned} unsigned"
                   f"{f', {report.unchecked} signatures unchecked' if report.unchecked else ''})"
                   + "".join(f"; {note}" for note in report.notes if "expired" in note))
    raise typer.Exit(1 if any(report.fault for _, report in reports) else 0)


@intake_app.command("serve")
def intake_serve(inbox: Path = typer.Option(None, help="folder accepted batches land in (default <state>/inbox)"),
                 port: int = typer.Option(8090, min=1, max=65535),
                 host: str = typer.Option("127.0.0.1"),
                 token_env: str = typer.Option("EDGE_INSIGHTS_INTAKE_TOKENS",
                                               help="environment variable holding comma-separated bearer tokens"),
                 max_bytes: int = typer.Option(None, min=1, help="largest batch in bytes"),
                 max_rows: int = typer.Option(None, min=1, help="most rows in one batch")) -> None:
    """Authenticated HTTP intake of signal batches (``POST /v1/signals``) into the inbox.

    Tokens come from an environment variable, never the command line, where any user of the
    machine could read them in the process list.
    """
    from crawlers.intake.batch import Limits
    from crawlers.intake.webhook import run_intake, tokens_from_env

    try:
        tokens = tokens_from_env(token_env)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="'--token-env'") from None
    limits = Limits(**{k: v for k, v in (("max_bytes", max_bytes), ("max_rows", max_rows)) if v is not None})
    inbox = inbox or _settings(ensure=True).inbox_dir
    if inbox.exists() and not inbox.is_dir():
        raise typer.BadParameter(f"{inbox} is a file, not a folder", param_hint="'--inbox'")
    run_intake(inbox, tokens, host=host, port=port, limits=limits)


reflow_commands(app)

if __name__ == "__main__":
    app()
