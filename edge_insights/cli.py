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
console = Console()

STEPS_IN_MAIN_JOB = 12


@app.command()
def demo(preset: str = typer.Option("demo", help="training preset: tiny | demo | full"),
         max_pages: int = typer.Option(0, help="cap on crawl requests (0 = crawl the whole mirror)"),
         max_reviews: int = typer.Option(0, help="rows read per review file (0 = all)"),
         shadow_rate: float = typer.Option(0.2, help="share of edge decisions also scored by the central model")
         ) -> None:
    """Run the whole job on real input, serve the champion, decide held-out reviews, print a summary."""
    from edge_insights.demo import held_out_reviews, run_job, serve_and_decide, summarise, write_summary
    from edge_insights.report import print_summary

    settings = Settings.from_env().ensure()
    if not (settings.data_dir / "books_toscrape").is_dir():
        console.print(f"[red]data folder not found: {settings.data_dir}[/] (set EDGE_INSIGHTS_DATA_DIR)")
        raise typer.Exit(2)
    console.print(f"state folder [bold]{settings.state_dir}[/], data folder [bold]{settings.data_dir}[/]")
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("edge_insights_job", total=STEPS_IN_MAIN_JOB)

        def on_event(event) -> None:
            if event.event_type_value == "STEP_START":
                progress.update(task, description=f"edge_insights_job: {event.step_key}")
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
                progress.advance(task)

        job = run_job("edge_insights_job", settings, preset=preset, max_pages=max_pages,
                      max_reviews=max_reviews, on_event=on_event)
    if not job.success:
        console.print(f"[red]run {job.run_id} failed[/]")
        for failure in job.failures:
            console.print(f"  {failure}")
        raise typer.Exit(1)
    texts, labels = held_out_reviews(settings)
    with console.status(f"serving: central + edge pods, {len(texts)} held-out reviews over HTTP"):
        served = serve_and_decide(settings, texts, labels, shadow_rate)
    with console.status("feedback_job: edge-vs-central divergence"):
        feedback = run_job("feedback_job", settings, preset=preset, max_pages=max_pages, max_reviews=max_reviews)
    summary = summarise(settings, job, served, feedback)
    write_summary(settings, summary)
    print_summary(console, summary)


@app.command()
def serve(decision: str = typer.Option("negative_review", help="decision the pod serves"),
          slot: str = typer.Option("champion", help="deploy slot: champion (edge) or central"),
          port: int = typer.Option(8080, help="TCP port on 127.0.0.1"),
          host: str = typer.Option("127.0.0.1", help="interface to bind"),
          central_url: str = typer.Option("", help="central pod URL for low-confidence cases"),
          shadow_rate: float = typer.Option(0.0, help="share of edge decisions shadow-scored by central"),
          threads: int = typer.Option(1, help="onnxruntime intra-op threads")) -> None:
    """Serve a deployed bundle with an edge pod (onnxruntime only; no torch is imported)."""
    from serving.pod import run_pod

    settings = Settings.from_env()
    deploy_dir = settings.deploy_dir / decision / slot
    if not deploy_dir.is_dir():
        console.print(f"[red]nothing deployed at {deploy_dir}[/]: run `make demo` first")
        raise typer.Exit(2)
    run_pod(deploy_dir, host=host, port=port, central_url=central_url or None, shadow_rate=shadow_rate,
            decision_log_dir=settings.decision_log_dir, threads=threads)


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


@app.command("parse-price")
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
