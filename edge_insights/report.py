"""Rich rendering of the demo summary (the dict written to ``demo_summary.json``)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _table(title: str, rows: list[tuple[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    return table


def print_summary(console: Console, s: dict[str, Any]) -> None:
    """Print the summary as a few small tables."""
    crawl, served, export = s["crawl"], s["serving"], s["export"]
    console.rule("Edge Insights demo")
    console.print(_table("Harvest", [
        ("pages crawled", crawl["pages"]), ("book records", crawl["items"]),
        ("404s (quarantined)", crawl["http_404"]), ("crawl errors", crawl["errors"]),
        ("review records", s["reviews"]["records"]), ("review rows quarantined", s["reviews"]["quarantined"]),
        ("scrubbed / validated / history", f'{s["records"]["scrubbed"]} / {s["records"]["validated"]} / '
                                           f'{s["records"]["history"]}')]))
    quarantine = Table(title="Quarantine (this run)", title_justify="left")
    for col in ("stage", "reason", "rows"):
        quarantine.add_column(col)
    for row in s["quarantine"]:
        quarantine.add_row(row["stage"], row["reason"], str(row["n"]))
    console.print(quarantine)
    console.print(_table("PII replacements", list(s["pii_replacements"].items()) or [("none", 0)]))
    console.print(_table("Checks (blocking)", [(k, "passed" if v else "FAILED") for k, v in s["checks"].items()]))
    models = Table(title="negative_review on held-out products", title_justify="left")
    for col in ("model", "layers", "precision", "recall", "F1", "train s"):
        models.add_column(col)
    for name, key, layers in (("teacher (central)", "teacher", 6), ("student (edge)", "student", s["student"]["layers"])):
        m = s[key]
        models.add_row(name, str(layers), f'{m["precision"]:.3f}', f'{m["recall"]:.3f}', f'{m["f1"]:.3f}',
                       f'{m["train_seconds"]:.1f}')
    console.print(models)
    console.print(_table("Export", [
        ("parity max |Δlogit| (fp32 vs torch)", f'{export["parity_max_abs_logit_delta"]:.2e}'),
        ("int8 agreement with fp32", export["int8_agreement"]), ("shipped", export["quantization"]),
        ("why", export["quantization_reason"]), ("model size MB", f'{export["model_bytes"] / 2**20:.1f}'),
        ("shipped F1", export["shipped_f1"]), ("abstain threshold", export["abstain_threshold"]),
        ("bundle sha256", export["bundle_sha256"][:16] + "…")]))
    reg = s["registry"]
    console.print(_table("Registry (MLflow)", [
        ("model", reg["model_name"]), ("version", reg["version"]), ("aliases", reg["aliases"]),
        ("promotion", reg["promotion"])]))
    console.print(_table("Serving (edge pod on loopback)", [
        ("decisions", served["decisions"]), ("routes", served["routes"]),
        ("served F1 (incl. central routing)", served["served_metrics"]["f1"]),
        ("model latency p50 / p99 ms", f'{served["server_latency_ms"]["p50"]:.2f} / {served["server_latency_ms"]["p99"]:.2f}'),
        ("1-record HTTP p50 / p99 ms", f'{served["single_request_ms"]["p50"]:.2f} / {served["single_request_ms"]["p99"]:.2f}'),
        ("model version", served["pod"].get("model_version"))]))
    div = s.get("divergence") or {}
    if div:
        console.print(_table("Edge vs central (decision log)", [
            ("compared", div.get("compared")), ("disagreement rate", div.get("disagreement_rate")),
            ("JS divergence (bits)", div.get("js_divergence"))]))
    console.print(f"summary written to demo_summary.json · Dagster run {s['dagster_run_id']}")
