"""``edge-insights``: the user's entry point (demo, serve, ui)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from edge_insights.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Harvested market signals → distilled micro-models → decisions at the edge.")
# Piped output (CI logs, `make demo > log`) gets a wide fixed width so the summary tables stay readable.
console = Console() if sys.stdout.isatty() else Console(width=150)


@app.command()
def demo(preset: str = typer.Option("demo", help="training preset: tiny | demo | full"),
         max_pages: int = typer.Option(0, min=0, help="cap on crawl requests (0 = crawl the whole mirror)"),
         max_reviews: int = typer.Option(0, min=0, help="rows read per review file (0 = all)"),
         replay_days: int = typer.Option(30, help="market-replay ticks (simulated days) to crawl into history"),
         history_days: int = typer.Option(0, min=0, help="days of price history to backfill (0 = all)"),
         shadow_rate: float = typer.Option(0.2, min=0.0, max=1.0,
                                           help="share of edge decisions also scored by the central model")
         ) -> None:
    """Load history, run the whole job on real input, serve every decision, print a summary."""
    from training.config import PRESETS

    # Checked before anything runs: the jobs would otherwise fail only at their training step.
    if preset not in PRESETS:
        raise typer.BadParameter(f"unknown preset {preset!r}; choose one of {', '.join(sorted(PRESETS))}",
                                 param_hint="'--preset'")
    from edge_insights.demo import run_job, serve_and_decide, summarise, write_summary
    from edge_insights.report import print_summary
    from orchestration.partitions import PRICE_HISTORY_PARTITIONS, REPLAY_PARTITIONS
    from training.decisions import DECISIONS

    settings = Settings.from_env().ensure()
    if not (settings.data_dir / "books_toscrape").is_dir():
        console.print(f"[red]data folder not found: {settings.data_dir}[/] (set EDGE_INSIGHTS_DATA_DIR)")
        raise typer.Exit(2)
    console.print(f"state folder [bold]{settings.state_dir}[/], data folder [bold]{settings.data_dir}[/]")
    size = {"preset": preset, "max_pages": max_pages, "max_reviews": max_reviews}
    history_keys = PRICE_HISTORY_PARTITIONS.get_partition_keys()
    replay_keys = REPLAY_PARTITIONS.get_partition_keys()[:max(replay_days, 1)]
    runs = {}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        for job_name, asset, keys in (("price_history_backfill", "price_history",
                                       history_keys[-history_days:] if history_days else history_keys),
                                      ("market_replay", "replay_harvest", replay_keys)):
            task = progress.add_task(f"{job_name}: {len(keys)} partitions", total=1)
            runs[job_name] = run_job(job_name, settings, partition_range=(keys[0], keys[-1]), **size)
            progress.advance(task)
        task = progress.add_task("edge_insights_job", total=None)

        def on_event(event) -> None:
            if event.event_type_value == "STEP_START":
                progress.update(task, description=f"edge_insights_job: {event.step_key}")

        job = run_job("edge_insights_job", settings, on_event=on_event, **size)
        progress.update(task, total=1, completed=1)
    for outcome in (*runs.values(), job):
        if not outcome.success:
            console.print(f"[red]run {outcome.run_id} failed[/]")
            for failure in outcome.failures:
                console.print(f"  {failure}")
            raise typer.Exit(1)
    served = {}
    for name in DECISIONS:
        if not job.assets.get(f"{name}/deployed_bundle", {}).get("deployed"):
            console.print(f"[yellow]{name}: not served — {job.assets[f'{name}/registered_model']['promotion']}[/]")
            continue
        with console.status(f"serving {name}: central + edge pods, held-out examples over HTTP"):
            served[name] = serve_and_decide(settings, name, shadow_rate)
    with console.status("feedback_job: edge-vs-central divergence"):
        feedback = run_job("feedback_job", settings, **size)
    history = {"price_history": runs["price_history_backfill"], "market_replay": runs["market_replay"]}
    summary = summarise(settings, history, job, served, feedback)
    write_summary(settings, summary)
    print_summary(console, summary)


@app.command()
def serve(decision: str = typer.Option("negative_review", help="decision the pod serves"),
          slot: str = typer.Option("champion", help="deploy slot: champion (edge) or central"),
          port: int = typer.Option(8080, min=1, max=65535, help="TCP port on 127.0.0.1"),
          host: str = typer.Option("127.0.0.1", help="interface to bind"),
          central_url: str = typer.Option("", help="central pod URL (http or https) for low-confidence cases"),
          shadow_rate: float = typer.Option(0.0, help="share (0-1) of edge decisions shadow-scored by central"),
          threads: int = typer.Option(1, min=1, help="onnxruntime intra-op threads")) -> None:
    """Serve a deployed bundle with an edge pod (onnxruntime only; no torch is imported).

    A pod that must not start (bundle or release refused, bad shadow rate, a central URL that is
    not a central pod of this decision) prints one line ``refusing to start: <reason>`` and exits
    with status 2, as ``python -m serving.pod`` does.
    """
    from serving.pod import START_REFUSALS, run_pod
    from serving.router import check_central_url

    if central_url:
        try:
            check_central_url(central_url)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="'--central-url'") from None
    settings = Settings.from_env()
    deploy_dir = settings.deploy_dir / decision / slot
    if not deploy_dir.is_dir():
        console.print(f"[red]nothing deployed at {deploy_dir}[/]: run `make demo` first")
        raise typer.Exit(2)
    try:
        run_pod(deploy_dir, host=host, port=port, central_url=central_url or None, shadow_rate=shadow_rate,
                decision_log_dir=settings.decision_log_dir, threads=threads)
    except START_REFUSALS as err:
        # Plain echo, not the rich console: a refusal is one line, never wrapped or boxed.
        typer.echo(f"refusing to start: {err}", err=True)
        raise typer.Exit(2) from None


@app.command()
def evaluate(decision: str = typer.Argument(..., help="negative_review | price_spike | urgent_inventory"),
             data_dir: Path = typer.Option(..., "--data-dir", exists=True, file_okay=False,
                                           help="folder laid out like the matching folder of shared/data")) -> None:
    """Score the deployed champion on your own data; prints one JSON line."""
    import json

    from edge_insights.evaluate import evaluate as run_evaluation
    from training.decisions import DECISIONS

    if decision not in DECISIONS:
        console.print(f"[red]unknown decision {decision!r}[/]; choose one of {', '.join(DECISIONS)}")
        raise typer.Exit(2)
    try:
        result = run_evaluation(decision, data_dir)
    except FileNotFoundError as err:
        console.print(f"[red]{err}[/]")
        raise typer.Exit(2) from err
    typer.echo(json.dumps(result))


@app.command()
def ui(dagster_port: int = typer.Option(3000), mlflow_port: int = typer.Option(5000)) -> None:
    """Dagster UI and MLflow UI on loopback over the state folder (Ctrl-C stops both)."""
    settings = Settings.from_env().ensure()
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "DAGSTER_HOME": str(settings.dagster_home)}
    processes = [
        subprocess.Popen([str(bin_dir / "dagster"), "dev", "-m", "orchestration.definitions", "-h", "127.0.0.1",
                          "-p", str(dagster_port)], env=env, start_new_session=True),
        subprocess.Popen([str(bin_dir / "mlflow"), "ui", "--backend-store-uri", settings.tracking_uri,
                          "--host", "127.0.0.1", "--port", str(mlflow_port)], env=env, start_new_session=True),
    ]
    console.print(f"Dagster UI http://127.0.0.1:{dagster_port}  ·  MLflow UI http://127.0.0.1:{mlflow_port}")
    try:
        for process in processes:
            process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            # dagster dev starts a code server and a daemon: stop the whole process group.
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)


@app.command()
def extract(pages: list[Path] = typer.Argument(..., exists=True, dir_okay=False,
                                               help="saved product pages (.html or .html.gz)"),
            url: str = typer.Option("", help="the page's URL; with several files it may be "
                                             "omitted: each page's canonical/og:url, else file://")
            ) -> None:
    """Extract a signal record from saved product pages (one JSON line per page)."""
    import gzip
    import json

    from crawlers.extraction.page import declared_url, extract_product

    if len(pages) == 1 and not url:
        console.print("[red]--url is required for a single page[/]")
        raise typer.Exit(2)
    for page in pages:
        html = page.read_bytes()
        if page.suffix == ".gz":
            html = gzip.decompress(html)
        page_url = url or declared_url(html) or page.resolve().as_uri()
        print(json.dumps(extract_product(html, page_url), ensure_ascii=False))


# A price may start with a minus ("-$5.00"): read it as the text, not as an unknown option.
@app.command("parse-price", context_settings={"ignore_unknown_options": True})
def parse_price(text: str = typer.Argument(..., help='price as shown, e.g. "1.234,56 €"'),
                currency_hint: str = typer.Option("", help="currency to assume when the text "
                                                           "names none (symbol or ISO code)")
                ) -> None:
    """Parse a price string: prints {"amount": "1234.56", "currency": "EUR"} (nulls if absent)."""
    import json

    from crawlers.extraction.price import parse_price as parse

    parsed = parse(text, currency_hint=currency_hint or None)
    amount = None if parsed.amount is None else format(parsed.amount, "f")
    print(json.dumps({"amount": amount, "currency": parsed.currency}, ensure_ascii=False))


if __name__ == "__main__":
    app()
