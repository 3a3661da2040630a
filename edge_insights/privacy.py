"""``edge-insights privacy report`` and ``edge-insights erase``: what is held, and erasure on request.

Both read the state folder of the environment's settings and the repository's privacy policy
(:mod:`commons.privacy_policy`); the table is also the demo summary's privacy section.
"""

from __future__ import annotations

import typer
from rich.table import Table

privacy_app = typer.Typer(add_completion=False, no_args_is_help=True,
                          help="What is held, where and until when (privacy policy: retention, residency).")


def holdings_table(rows) -> Table:
    """The privacy report as a rich table (rows from :func:`commons.privacy_report.holdings`)."""
    table = Table(title="Privacy report: what is held, where, until when (by policy)")
    for column in ("store", "kind", "where", "region", "rows/files", "lines", "oldest", "until (policy)",
                   "retention"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row.store, row.kind, row.where, row.regions, f"{row.count:,}",
                      "" if row.lines is None else f"{row.lines:,}", row.oldest or "—", row.until or "—",
                      row.retention)
    return table


def _stores(settings):
    from commons.privacy_policy import PolicyError, load_policy
    from commons.retention import StoreFolders
    from commons.warehouse import Warehouse

    try:
        policy = load_policy()
    except PolicyError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    return policy, Warehouse(settings.warehouse_path), StoreFolders.of(settings)


@privacy_app.command("report")
def privacy_report(as_json: bool = typer.Option(False, "--json", help="one JSON object per store instead")) -> None:
    """Print, per store of the privacy policy: where it is held (state folder, region), how many
    rows or files, the oldest row, and until when that row may be kept by policy."""
    import json

    from commons.privacy_report import holdings
    from edge_insights.cli import _settings, console

    settings = _settings()
    policy, warehouse, folders = _stores(settings)
    rows = holdings(policy, warehouse, folders)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row.to_dict()))
        return
    console.print(f"state folder {settings.state_dir} · central region {settings.region or policy.central_region} · "
                  f"policy v{policy.version}", highlight=False, soft_wrap=True)
    console.print(holdings_table(rows))


def erase(product: str = typer.Option(None, "--product", help="a product_id: every row, file line and "
                                                                "decision about it"),
          source: str = typer.Option(None, "--source", help="a source: everything harvested from it")) -> None:
    """Erase every stored trace of one subject (warehouse tables, staging and inbox files, decision
    logs, the live store), record the erasure in the control audit log, and print what went per store.

    Reviewers have no key to erase by: their names are replaced with <USER> before storage.
    Decision logs are rebuilt without the subject's lines (a new chain from the first file that
    held one, recorded in the control audit log), so `audit verify` still passes."""
    from commons.erasure import erase as erase_subject
    from commons.token_keys import signing_keys
    from edge_insights.cli import _control_audit, _required_text, _settings, console

    if (product is None) == (source is None):
        raise typer.BadParameter("give exactly one of --product or --source")
    key, value = ("product_id", product) if product is not None else ("source", source)
    _required_text(value, f"'--{key.removesuffix('_id')}'")
    settings = _settings()
    policy, warehouse, folders = _stores(settings)
    audit = _control_audit(settings)
    keys = signing_keys(settings.audit_dir)
    counts = erase_subject(policy, warehouse, folders, key, value, audit, keys[0] if keys else None)
    table = Table(title=f"Erased {key} = {value}")
    table.add_column("store")
    table.add_column("removed", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    console.print(table)
    console.print(f"{sum(counts.values()):,} item(s) removed; recorded in {audit.path}", highlight=False,
                  soft_wrap=True)
