"""Rich rendering of the demo summary (the dict written to ``demo_summary.json``)."""

from __future__ import annotations

from pathlib import Path
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


def drift_line(d: dict[str, Any]) -> str:
    """One decision's line of :func:`edge_insights.demo.drift_now`'s table: the production shadow
    sample's test, then the replayed traffic it left out (a summary written before replay was
    counted apart has none)."""
    if "skipped" in d:
        return f'skipped: {d["skipped"]}'
    replay = d.get("replay") or {}
    left_out = (f'; replay left out: {replay["shadow_disagreements"]}/{replay["shadow_compared"]} shadow of '
                f'{replay["decisions"]}' if replay.get("decisions") else "")
    return (f'shadow {d["shadow_disagreements"]}/{d["shadow_compared"]} ({d["shadow_rate"]:.3f}) vs '
            f'{d["baseline_rate"]:.3f} over {d["baseline_n"]} at release, p = {d["p_value"]:.2g}: '
            + (f'would request a retrain ({"; ".join(d["reasons"])})' if d["drifted"] else "no drift")
            + left_out)


def _quality_table(decisions: dict[str, Any]) -> Table:
    table = Table(title="Micro-decisions on held-out products (F1 of the alert class)", title_justify="left")
    for col in ("decision", "eval n/alerts", "central oracle", "student fp32", "shipped", "baseline", "ECE raw→cal",
                "size MB", "gate"):
        table.add_column(col)
    for name, d in decisions.items():
        ex, st, exp = d["examples"], d["student"], d["export"]
        table.add_row(name, f'{ex["eval"]}/{ex["eval_alerts"]}', f'{d["teacher"]["f1"]:.3f} ({d["teacher"]["oracle"]})',
                      f'{st["f1"]:.3f}',
                      f'{exp["shipped_f1"]:.3f} ({exp["quantization"]})', f'{st["baseline_f1"]:.3f}',
                      f'{st["ece_raw"]:.3f}→{st["ece"]:.3f}', f'{exp["model_bytes"] / 2**20:.1f}',
                      "champion" if d["registry"]["promoted"] else "not promoted")
    return table


def _serving_table(decisions: dict[str, Any]) -> Table:
    table = Table(title="Serving held-out products (edge pod + central pod on loopback)", title_justify="left")
    for col in ("decision", "oracle", "decisions", "edge/central/fallback", "edge coverage", "edge-only F1",
                "served F1", "1-record HTTP p50/p99 ms", "version"):
        table.add_column(col)
    for name, d in decisions.items():
        sv = d["serving"]
        if sv is None:
            table.add_row(name, d["teacher"]["oracle"], "not served: no champion yet", "", "", "", "", "", "")
            continue
        r = sv["routes"]
        table.add_row(name, d["teacher"]["oracle"], str(sv["decisions"]), f'{r["edge"]}/{r["central"]}/{r["fallback"]}',
                      f'{r["edge"] / max(sv["decisions"], 1):.1%}', f'{d["export"]["shipped_f1"]:.3f}',
                      f'{sv["served_metrics"]["f1"]:.3f}',
                      f'{sv["single_request_ms"]["p50"]:.2f} / {sv["single_request_ms"]["p99"]:.2f}',
                      str(sv["pod"].get("model_version")))
    return table


def pii_scores_table(scores: dict[str, Any]) -> Table:
    """The pipeline scrubber's recall and precision per type, tuning / held-out halves
    (:func:`edge_insights.pii_scorecard.pii_scorecard`)."""
    def pair(values: list[float | None]) -> str:
        return " / ".join("-" if v is None else f"{v:.3f}" for v in values)

    tuning, held_out = scores["samples"]
    table = Table(title=f"PII scrubber on labelled samples (tuning {tuning} / held-out {held_out}); real reviews "
                        f"altered {scores['reviews_altered_odd']:.1%} (odd rows); "
                        f"{scores['records_per_s']:,.0f} records/s", title_justify="left",
                  caption="rules + learned name tagger (pii_name_tagger asset)" if scores.get("name_tagger")
                  else "rules alone (no name tagger built yet)", caption_justify="left")
    for col in ("type", "recall tuning / held-out [95 % interval]", "precision tuning / held-out"):
        table.add_column(col)
    for kind, row in scores["types"].items():
        interval = row.get("held_out_recall_interval")
        recall = pair(row["recall"]) + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")
        table.add_row(kind, recall, pair(row["precision"]))
    return table


def privacy_table(privacy: dict[str, Any]) -> Table:
    """The privacy report's totals and the retention run's result
    (:func:`edge_insights.demo.privacy_summary`)."""
    kept, ret = privacy["oldest"], privacy["retention"]
    log = privacy["decision_log"]
    return _table("Privacy (`edge-insights privacy report`) and retention", [
        ("held", f'{privacy["table_rows"]:,} warehouse rows · {privacy["files"]} files (staging, inbox, crawl and '
                 f'run logs) · {log["lines"]:,} decision-log lines in {log["files"]} day files'),
        ("oldest row", f'{kept["at"]} in {kept["store"]}, kept until {kept["until"] or "erased"} '
                       f'({kept["retention"]})' if kept else "—"),
        ("retention run", f'{ret["removed"]} removed, {ret["aggregated"]} folded into price_monthly, '
                          f'no_rows_past_retention {"passed" if ret["check_passed"] else "FAILED"}'
                          + (f' · {ret["seconds"]:.1f} s' if ret["seconds"] is not None else ""))])


def live_table(live: dict[str, Any]) -> Table:
    """The live loop's insights by decision, route and latency percentiles."""
    title = (f"Live loop ({live['duration_s']:g} s, {live['products']} products, one replay day per "
             f"{live['seconds_per_tick']:g} s, {live['rate']:g} requests/s, {live['policy']} revisits)")
    table = Table(title=title, title_justify="left")
    for col in ("decision", "signals", "insights", "alerts", "edge/central/fallback", "received→insight p50/p99 ms",
                "change→insight mean/p90 s", "shadow disagreement"):
        table.add_column(col)
    for name, d in live["decisions"].items():
        r, h, c = d["routes"], d["harvest_to_insight_ms"], d["change_to_insight_s"]
        shadow = d.get("shadow") or {}
        table.add_row(name, d["source"], str(d["insights"]), str(d["alerts"]), f'{r["edge"]}/{r["central"]}/{r["fallback"]}',
                      f'{h["p50"]:.0f} / {h["p99"]:.0f}',
                      f'{c["mean"]:.2f} / {c["p90"]:.2f}' if c["mean"] is not None else "-",
                      # The uniform sample of edge answers central also scored: what drift_sensor tests.
                      f'{shadow["disagreements"]} of {shadow["compared"]}' if shadow.get("compared") else "-")
    hook = live.get("webhook")
    if hook:
        table.caption = (f'webhook subscriber (alerts, {hook["url"]}): {hook["alerts"]} of '
                         f'{live["alerts_on_stream"]} alerts received once each, signatures verified; '
                         f'{hook["requests"]} requests, {hook["refused"]} refused; '
                         f'{live["counts"].get("undelivered_at_stop", 0)} undelivered at stop')
        table.caption_justify = "left"
    return table


def security_table(security: dict[str, Any], decisions: dict[str, Any] | None = None) -> Table:
    """Tokens issued, the bad-credential probes, requests refused by reason, and ``audit verify``
    (:func:`edge_insights.security_summary.security_summary`); with the summary's ``decisions``, the
    signed bundles the served pods verified; the revocation drill when it ran."""
    issued = security["tokens_issued"]
    verify = security["audit_verify"]
    verdict = {0: "intact", 1: "TAMPERED"}.get(verify["exit"], "nothing to check")
    logs = sum(line.startswith("ok ") for line in verify["lines"])
    return _table("Security (tokens required on every pod)", [
        ("tokens issued", f'{sum(issued.values())} to {len(issued)} clients: '
                          + ", ".join(f"{sub} {n}" for sub, n in sorted(issued.items()))),
        ("bad-credential probes", f'{security["probes_refused"]} of {security["probes_tried"]} refused (401/403)'),
        ("refused by reason (pods' /metrics)", ", ".join(f"{reason} {n}" for reason, n in
                                                          sorted(security["refused_by_reason"].items())) or "none"),
        ("audit verify <state>", f"{verdict} (exit {verify['exit']}): {logs} chained logs ok"
                                 + "".join(f"; {line}" for line in verify["lines"] if line.startswith("TAMPERED"))),
        ("signed bundles", _signed(decisions or {})),
        ("revocation drill", _revocation(security.get("revocation_drill")))])


def _signed(decisions: dict[str, Any]) -> str:
    served = {name: d["registry"].get("signed_by") for name, d in decisions.items() if d.get("serving")}
    if not served:
        return "no pod served"
    keys = sorted({kid for kid in served.values() if kid})
    return (f"{len(served)} edge and {len(served)} central bundles signed with release key "
            f"{', '.join(k[:16] for k in keys) or '—'} and verified by their pods before loading")


def _revocation(drill: dict[str, Any] | None) -> str:
    if not drill:
        return "not run (no decision served)"
    return (f'{drill["decision"]}: champion {drill["revoked_sha256"][:12]} revoked under load, pod central-only; '
            f'time to revoke {drill["time_to_revoke_s"]:.2f} s ({drill["poll_s"]:g} s polling), '
            f'{drill["failed"]} of {drill["requests"]} requests failed')


def print_summary(console: Console, s: dict[str, Any], written_to: Path) -> None:
    """Print the summary as a few small tables, ending with where it was written (``written_to``)."""
    crawl = s["crawl"]
    console.rule("Edge Insights demo")
    loads = s["history_loads"]
    console.print(_table("History", [
        ("price history backfill", f'{loads["price_history"].get("partitions")} daily partitions, '
                                   f'{loads["price_history"].get("records")} records, '
                                   f'{loads["price_history"].get("added")} changes stored'),
        ("market replay", f'{loads["market_replay"].get("ticks")} ticks, {loads["market_replay"].get("pages")} pages, '
                          f'{loads["market_replay"].get("added")} changes stored')]))
    console.print(_table("Harvest (current window)", [
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
    if s.get("pii_scores"):
        console.print(pii_scores_table(s["pii_scores"]))
    console.print(_table("Checks (blocking)", [(k, "passed" if v else "FAILED") for k, v in s["checks"].items()]))
    console.print(_quality_table(s["decisions"]))
    for name, d in s["decisions"].items():
        exp, reg = d["export"], d["registry"]
        console.print(_table(f"{name}", [
            ("parity max |Δlogit| · int8 agreement", f'{exp["parity_max_abs_logit_delta"]:.2e} · '
                                                     f'{exp["int8_agreement"]:.4f}'),
            ("edge coverage (abstain threshold)", f'{exp["edge_coverage_on_eval"]:.1%} '
                                                  f'({exp["abstain_threshold"]:.3f})'),
            ("version · aliases", f'{reg["version"]} · {reg["aliases"]}'), ("gate", reg["promotion"])]))
    console.print(_serving_table(s["decisions"]))
    div = s.get("divergence") or {}
    if div:
        console.print(_table("Edge vs central disagreement (decision logs)",
                             [(k.replace("_disagreement_rate", ""), v) for k, v in div.items()
                              if k.endswith("_disagreement_rate")]))
    if s.get("drift_now"):
        console.print(_table("Drift sensor's test now, over the production traffic logged (what its first tick "
                                    "would find)", [
            (name, drift_line(d)) for name, d in s["drift_now"].items()]))
    drill = s.get("drift_drill")
    if drill:
        console.print(_table(f"Drift drill ({drill['decision']}, shadow rate {drill['shadow_rate']:g}, rule checked "
                             "every 20 decisions)", [
            (phase, f'retrain requested after {o["request_after"]} decisions' if o["request_after"] is not None
             else f'no retrain over {o["decisions"]} decisions') for phase, o in drill["phases"].items()]))
    if s.get("live"):
        console.print(live_table(s["live"]))
    if s.get("privacy"):
        console.print(privacy_table(s["privacy"]))
    if s.get("security"):
        console.print(security_table(s["security"], s["decisions"]))
    console.print(f"summary written to {written_to} · Dagster run {s['dagster_run_id']}", highlight=False)
