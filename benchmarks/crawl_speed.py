"""Crawl speed benchmark: the full harvest pipeline beside a raw fetch of the same URLs.

Run: ``.venv/bin/python benchmarks/crawl_speed.py`` from the repository root (reads the books
mirror from ``EDGE_INSIGHTS_DATA_DIR``, writes ``<state>/benchmarks/crawl_speed.json``).

Both sides fetch the same 1,030 URLs (49 listing pages + 1 missing page-50, 980 product links, 837
of them 404) in the same run from one loopback server: the market replay at tick 0
(:mod:`crawlers.replay`), which renders every page from memory, run in a process of its own so
that neither client shares a process (or a GIL) with it. The server speaks HTTP/1.1 with
persistent connections, as shops do, so both sides reuse one connection per worker.

- **crawl**: ``edge-insights crawl`` as a subprocess — Scrapy with the project settings
  (robots.txt, AutoThrottle, retries, parsing, normalisation, digests, JSON-lines output). Rate =
  pages / the crawl's own ``duration_s`` (reactor start to stop; interpreter start-up and imports
  are reported apart as ``wall_s``). Peak RSS is the child's ``ru_maxrss`` (``os.wait4``).
- **raw**: a thread pool of ``http.client`` GETs on kept-alive connections, as many workers as
  ``CONCURRENT_REQUESTS_PER_DOMAIN``, each reading the whole body; nothing parsed or written.

Server latency (``--latency-ms``, default ``0,5,20,50``): the measurement is repeated with the
server waiting that long before each response. At 0 ms both sides are bound by CPU, so the ratio
compares Scrapy's per-page work (~1 ms of one core: engine, middlewares, Twisted's HTTP client,
parsing) with a bare socket read; at a shop's time to first byte (tens to hundreds of ms) both
are bound by the network at the same concurrency, and the ratio shows what the pipeline costs a
real harvest. Every row is reported; none is dropped.

Settings profile (``--profile``): ``loopback`` (default) passes
:data:`crawlers.settings.loopback_profile` to the crawl: AutoThrottle stays on but targets the
raw side's concurrency (``CONCURRENT_REQUESTS_PER_DOMAIN``, 8) and starts at no delay, so both
sides aim at the same concurrency. ``production`` passes nothing: the polite defaults (target 4,
0.25 s start delay), which on this 404-heavy crawl hold the delay up (AutoThrottle never lowers it
on a non-200) and measure politeness, not overhead. ``--set`` options are passed through after the
profile, e.g. ``--set AUTOTHROTTLE_ENABLED=False`` to see the cost of the throttle.

The two run in turns ``--repeat`` times (default 3) and the medians are compared, since other
load on the machine moves single runs a lot (the load average is recorded). The figure is
``median crawl pages/s ÷ median raw pages/s`` per latency (target ≥ 0.6).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from commons.settings import Settings  # noqa: E402
from crawlers import settings as crawl_settings  # noqa: E402
from crawlers.parsing import parse_listing  # noqa: E402
from crawlers.replay import MarketReplay, serve_replay  # noqa: E402


def _serve(data_dir: Path, latency_s: float, ready: Any, stop: Any) -> None:
    """Child process: serve the market replay until ``stop`` is set; send the base URL first."""
    with serve_replay(MarketReplay(data_dir), latency_s=latency_s) as base:
        ready.send(base)
        stop.wait()


@contextmanager
def replay_server_process(data_dir: Path, latency_s: float = 0.0) -> Iterator[str]:
    """The market replay served from its own process; yields its base URL.

    ``latency_s``: each response's wait before it is sent (:func:`crawlers.replay.serve_replay`).

    Neither side shares a process (or a GIL) with the server: the crawl runs in a subprocess
    anyway, and the raw fetch would otherwise compete with the server's threads for one GIL.
    """
    context = multiprocessing.get_context("fork")
    ready_recv, ready_send = context.Pipe(duplex=False)
    stop = context.Event()
    server = context.Process(target=_serve, args=(data_dir, latency_s, ready_send, stop), daemon=True)
    server.start()
    try:
        if not ready_recv.poll(120):
            raise RuntimeError("the replay server did not start")
        yield ready_recv.recv()
    finally:
        stop.set()
        server.join(timeout=10)


def crawl_urls(site: Path, base: str) -> list[str]:
    """Every URL a full crawl from ``index.html`` requests: listing pages and their product links.

    Walks the mirror's files the way the spider walks the site; a missing listing page is
    requested (a 404) and ends the walk.
    """
    urls, path = [], "index.html"
    while True:
        url = base + path
        urls.append(url)
        page = site / path
        if not page.is_file():
            return urls
        listing = parse_listing(page.read_text("utf-8"), url)
        urls += listing.product_urls
        if listing.next_url is None:
            return urls
        path = listing.next_url.removeprefix(base)


_connection = threading.local()


def _get(url: str) -> int:
    """Bytes of the body of ``url`` (a 404's body included), on this thread's kept-alive connection.

    One persistent connection per worker thread, as Scrapy's connection pool keeps one per
    concurrent request: both sides pay a TCP handshake per worker, not per page.
    """
    parts = urllib.parse.urlsplit(url)
    connection = getattr(_connection, "http", None)
    if connection is None:
        connection = _connection.http = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=20)
    connection.request("GET", parts.path)
    return len(connection.getresponse().read())


def raw_fetch(urls: list[str], workers: int) -> dict[str, float]:
    """GET every URL with ``workers`` threads; pages/s over the whole batch."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        total = sum(pool.map(_get, urls))
    elapsed = time.perf_counter() - started
    return {"pages": len(urls), "bytes": total, "duration_s": round(elapsed, 3),
            "pages_per_s": round(len(urls) / elapsed, 1)}


def crawl(start_url: str, out: Path, overrides: list[str]) -> dict[str, float]:
    """One ``run_crawl`` subprocess; its stats, rates and peak RSS.

    Raises:
        RuntimeError: the crawl exits non-zero.
    """
    cmd = [sys.executable, "-m", "edge_insights", "crawl", "--start-url", start_url,
           "--out", str(out), "--crawl-id", "bench", "--log-file", str(out / "crawl.log")]
    for item in overrides:
        cmd += ["--set", item]
    started = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=REPO)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"run_crawl exited {child.returncode}; see {out / 'crawl.log'}")
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    return {"pages": stats["pages"], "records": stats["items"],
            "quarantined": stats["quarantined"], "duration_s": stats["duration_s"],
            "wall_s": round(wall, 3),
            "pages_per_s": round(stats["pages"] / stats["duration_s"], 1),
            "records_per_s": round(stats["items"] / stats["duration_s"], 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "throttle_delay_mean_s": stats["throttle_delay_mean_s"],
            "invariant_ok": stats["invariant_ok"]}


def measure(data_dir: Path, site: Path, latency_s: float, repeat: int, workers: int,
            overrides: list[str], tmp: Path) -> dict[str, Any]:
    """Raw fetch and crawl in turns against one replay server answering after ``latency_s``.

    Raises:
        RuntimeError: a crawl missed a URL or broke the one-outcome-per-link invariant.
    """
    raws, runs = [], []
    with replay_server_process(data_dir, latency_s) as replay_base:
        base = replay_base + "tick/0/"
        urls = crawl_urls(site, base)
        for turn in range(repeat):
            raws.append(raw_fetch(urls, workers))
            runs.append(crawl(base + "index.html", tmp / f"{latency_s}-{turn}", overrides))
    for run in runs:
        if run["pages"] != len(urls) or not run["invariant_ok"]:
            raise RuntimeError(f"crawl fetched {run['pages']} pages of {len(urls)} URLs, "
                               f"invariant_ok={run['invariant_ok']}")
    crawl_rate = statistics.median(run["pages_per_s"] for run in runs)
    raw_rate = statistics.median(raw["pages_per_s"] for raw in raws)
    return {"latency_ms": round(latency_s * 1000, 3), "urls": len(urls),
            "records": runs[0]["records"], "crawl_pages_per_s": crawl_rate,
            "crawl_records_per_s": statistics.median(run["records_per_s"] for run in runs),
            "raw_pages_per_s": raw_rate, "ratio": round(crawl_rate / raw_rate, 3),
            "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
            "crawl_cpu_s": statistics.median(run["cpu_s"] for run in runs),
            "turns": {"crawl": runs, "raw": raws}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="NAME=VALUE", help="Scrapy setting for the crawl (repeatable)")
    parser.add_argument("--repeat", type=int, default=3, help="raw/crawl turns (default 3)")
    parser.add_argument("--profile", choices=("loopback", "production"), default="loopback",
                        help="crawl settings profile (default loopback, see above)")
    parser.add_argument("--latency-ms", default="0,5,20,50", metavar="MS[,MS...]",
                        help="server response latencies to measure at (default 0,5,20,50)")
    args = parser.parse_args(argv)
    latencies = [float(item) / 1000 for item in args.latency_ms.split(",")]
    if any(latency < 0 for latency in latencies):
        parser.error("--latency-ms values must be >= 0")
    profile = ({name: str(value) for name, value in crawl_settings.loopback_profile.items()}
               if args.profile == "loopback" else {})
    overrides = [f"{name}={value}" for name, value in profile.items()] + args.overrides
    settings = Settings.from_env()
    site = settings.data_dir / "books_toscrape" / "site"
    out_dir = settings.state_dir / "benchmarks"
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = crawl_settings.CONCURRENT_REQUESTS_PER_DOMAIN
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        rows = [measure(settings.data_dir, site, latency, args.repeat, workers, overrides,
                        Path(tmp)) for latency in latencies]
    load_after = os.getloadavg()[0]
    result = {"rows": rows, "workers": workers, "profile": args.profile, "overrides": overrides,
              "cpus": os.cpu_count(), "load_average_1min": load_before,
              "load_average_1min_after": load_after, "python": platform.python_version()}

    print(f"{rows[0]['urls']} URLs, {workers} concurrent, {os.cpu_count()} CPUs, load average "
          f"{load_before:.1f} before / {load_after:.1f} after, median of {args.repeat} turns, "
          f"profile {args.profile}" + (f", --set {' '.join(overrides)}" if overrides else ""))
    print(f"{'latency ms':>10}{'crawl pages/s':>15}{'records/s':>11}{'raw pages/s':>13}"
          f"{'ratio':>7}{'peak RSS MB':>13}{'crawl CPU s':>13}")
    for row in rows:
        print(f"{row['latency_ms']:>10g}{row['crawl_pages_per_s']:>15.1f}"
              f"{row['crawl_records_per_s']:>11.1f}{row['raw_pages_per_s']:>13.1f}"
              f"{row['ratio']:>7.2f}{row['peak_rss_mb']:>13.1f}{row['crawl_cpu_s']:>13.2f}")
    target = out_dir / "crawl_speed.json"
    target.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
