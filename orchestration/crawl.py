"""One way to run a crawl from an asset: ``edge-insights crawl`` in its own process (Twisted's
reactor cannot restart, scrapy#1647) under Dagster Pipes, so its log lines and stats reach the
run's event log."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import dagster as dg

from commons.staging import STATS_FILE


def run_crawl(context: dg.AssetExecutionContext, pipes: dg.PipesSubprocessClient, *, start_url: str,
              out_dir: Path, crawl_id: str, stats_dir: Path, max_pages: int = 0) -> dict[str, Any]:
    """Crawl ``start_url`` into ``out_dir`` (staged records, quarantine rows, stats) and keep a
    copy of the stats and the Scrapy log in ``stats_dir``.

    Returns:
        The crawl's stats (shape: :func:`crawlers.run_crawl.crawl`).

    Raises:
        dagster.DagsterPipesExecutionError: the crawl process failed.
    """
    command = [sys.executable, "-m", "edge_insights", "crawl", "--start-url", start_url, "--out", str(out_dir),
               "--crawl-id", crawl_id, "--log-file", str(stats_dir / "crawl.log")]
    if max_pages:
        command += ["--max-pages", str(max_pages)]
    pipes.run(command=command, context=context)
    stats_text = (out_dir / STATS_FILE).read_text(encoding="utf-8")
    (stats_dir / STATS_FILE).write_text(stats_text, encoding="utf-8")
    return json.loads(stats_text)
