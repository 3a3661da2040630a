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
    """The policy, warehouse and store folders of ``settings``' state folder.

    Raises:
        typer.Exit: code 2 after one ``error:`` line: no state folder, a policy that cannot be
            read, or no warehouse where another store holds data (:func:`_holding`).
    """
    from commons.privacy_policy import PolicyError, load_policy
    from commons.retention import StoreFolders
    from commons.warehouse import Warehouse

    # Opening the warehouse would create a state folder: a mistyped path must not yield an empty
    # report or an erasure "done" where nothing was ever held.
    if not settings.state_dir.is_dir():
        typer.echo(f"error: no state folder at {settings.state_dir} (EDGE_INSIGHTS_STATE_DIR): nothing is held "
                   "there; point EDGE_INSIGHTS_STATE_DIR at the folder a run wrote", err=True)
        raise typer.Exit(2)
    try:
        policy = load_policy()
    except PolicyError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    folders = StoreFolders.of(settings)
    # Opening it would create it empty: a removed warehouse would read as "nothing held" and an
    # erasure as done. A fresh state folder (nothing stored yet) has none and is no error.
    if not settings.warehouse_path.exists() and (held := _holding(policy, folders)):
        typer.echo(f"error: no warehouse at {settings.warehouse_path}, yet this state folder holds data in "
                   f"{', '.join(held)}: the warehouse was removed or moved; restore it (nothing was read or "
                   "changed)", err=True)
        raise typer.Exit(2)
    return policy, Warehouse(settings.warehouse_path), folders


def _holding(policy, folders) -> list[str]:
    """The stores of ``policy`` other than the warehouse's tables that hold a file (every writer
    of those, but pods, writes the warehouse too)."""
    from commons.retention import chain_folders, plain_files

    held = []
    for store in policy.stores.values():
        if store.kind == "files" and plain_files(folders.files[store.name]):
            held.append(store.name)
        elif store.kind == "chain" and chain_folders(folders.chains[store.name]):
            held.append(store.name)
        elif store.kind == "sqlite" and folders.databases[store.database].exists() and store.database not in held:
            held.append(store.database)
    return held


def _unreadable(err: Exception, what: str = "read") -> typer.Exit:
    """A store that cannot be ``what`` (read, or read or written): one ``error:`` line (DuckDB's
    messages run over several), exit 1."""
    typer.echo(f"error: a store cannot be {what}: {type(err).__name__}: {' '.join(str(err).split())}", err=True)
    return typer.Exit(1)


@privacy_app.command("report")
def privacy_report(as_json: bool = typer.Option(
        False, "--json", help="JSON lines instead: one object per store, then per unkeyed or unaccounted "
                              "entry")) -> None:
    """Print, per store of the privacy policy: where it is held (state folder, region), how many
    rows or files, the oldest row, and until when that row may be kept by policy; then the
    state-folder entries that hold no subject key, with why. Exit 1 when an entry of the state
    folder is in no store and not named as unkeyed (nobody decided its retention or erasure), or a
    store cannot be read; exit 2 when the state folder, or its warehouse while another store holds
    data, is missing (nothing is created)."""
    import json
    import sqlite3

    import duckdb

    from commons.privacy_report import holdings, unaccounted
    from edge_insights.cli import _settings, console

    settings = _settings()
    policy, warehouse, folders = _stores(settings)
    try:
        rows = holdings(policy, warehouse, folders)
        stray = unaccounted(policy, warehouse, folders, settings.state_dir)
    except (OSError, sqlite3.Error, duckdb.Error) as err:
        raise _unreadable(err) from None
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row.to_dict()))
        for entry, why in policy.unkeyed.items():
            typer.echo(json.dumps({"entry": entry, "unkeyed": why}))
        for entry in stray:
            typer.echo(json.dumps({"entry": entry, "unaccounted": True}))
    else:
        console.print(f"state folder {settings.state_dir} · central region "
                      f"{settings.region or policy.central_region} · policy v{policy.version}",
                      highlight=False, soft_wrap=True)
        console.print(holdings_table(rows))
        reasons = Table(title="Why each store is kept, and for as long as it is")
        for column in ("store", "purpose", "why this period"):
            reasons.add_column(column, overflow="fold")
        for row in rows:
            reasons.add_row(row.store, row.purpose, row.why)
        console.print(reasons)
        unkeyed = Table(title="Held without any subject key (but the erasure register), so nothing to erase or "
                              "expire per subject")
        unkeyed.add_column("entry")
        unkeyed.add_column("why", overflow="fold")
        for entry, why in policy.unkeyed.items():
            unkeyed.add_row(entry, why)
        console.print(unkeyed)
    if stray:
        typer.echo(f"error: {len(stray)} entr{'y' if len(stray) == 1 else 'ies'} of the state folder in no "
                   f"store of the privacy policy and not named unkeyed: {', '.join(stray)}", err=True)
        raise typer.Exit(1)


@privacy_app.command("retention")
def privacy_retention(as_of: str = typer.Option(
        "", "--as-of", help="apply the policy as of this ISO 8601 time (UTC when no zone is given; default: now); "
                            "a time later than now is refused without --allow-future"),
        allow_future: bool = typer.Option(
            False, "--allow-future", help="accept an --as-of later than now (removes what will be past policy "
                                          "by then, which is more than is past it today)")
) -> None:
    """Apply the privacy policy's retention now, as the Dagster `retention` asset does: delete (or
    fold into price_monthly) every row, file and decision-log day past its period; print what went
    per store; record the run in the control audit log.

    Exit 2, nothing changed: ``--as-of`` is not ISO 8601, lies in the future without
    ``--allow-future``, or is so early that a store's cutoff falls before year 1; or no state
    folder, or no warehouse while another store holds data. Exit 1 after one ``error:`` line: a
    store cannot be read or written (a warehouse that is no DuckDB file, say).
    """
    import sqlite3

    import duckdb

    from commons.retention import AsOfError, apply_retention, checked_reference_now
    from edge_insights.cli import _control_audit, _settings, console

    settings = _settings()
    policy, warehouse, folders = _stores(settings)
    try:
        now = checked_reference_now(as_of, policy, allow_future, names=("--as-of", "--allow-future"))
    except AsOfError as err:
        if err.unparsable:
            raise typer.BadParameter(f"not an ISO 8601 time: {as_of!r}", param_hint="'--as-of'") from None
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    audit = _control_audit(settings)
    try:
        result = apply_retention(policy, warehouse, folders, now, audit)
    except (OSError, sqlite3.Error, duckdb.Error) as err:
        # Not recorded, as a failed run of the Dagster asset is not: apply_retention records a run once
        # every store is done, and an unreadable warehouse, whose tables go first, fails before anything goes.
        raise _unreadable(err, "read or written") from None
    table = Table(title=f"Retention as of {now.isoformat(timespec='seconds')}")
    for column in ("store", "removed", "aggregated"):
        table.add_column(column, justify="left" if column == "store" else "right")
    for name, outcome in result.items():
        table.add_row(name, f"{outcome['removed']:,}", f"{outcome.get('aggregated', 0):,}")
    console.print(table)
    removed = sum(r["removed"] for r in result.values())
    console.print(f"{removed:,} item(s) past policy removed" + (f"; recorded in {audit.path}" if removed else ""),
                  highlight=False, soft_wrap=True)


def erase(product: str = typer.Option(None, "--product", help="a product_id: every row, file line and "
                                                                "decision about it"),
          source: str = typer.Option(None, "--source", help="a source: everything harvested from it")) -> None:
    """Erase every stored trace of one subject (warehouse tables, staging and inbox files, decision
    logs, the live store), record the erasure in the control audit log, and print what went per store.

    Reviewers have no key to erase by: their names are replaced with <USER> before storage.
    Decision logs are rebuilt without the subject's lines (a new chain from the first file that
    held one, recorded in the control audit log), so `audit verify` still passes.

    Exit 1, recorded as erasure_incomplete: a decision log holding the subject does not verify
    (nothing is erased; the log is left for `audit verify`), or a store cannot be read or written
    midway. Exit 2: no state folder, or no warehouse while another store holds data."""
    from commons.control_audit import read_events
    from commons.erasure import ErasureIncomplete
    from commons.erasure import erase as erase_subject
    from commons.text_rules import unerasable
    from commons.token_keys import signing_keys
    from edge_insights.cli import _control_audit, _required_text, _settings, console

    if (product is None) == (source is None):
        raise typer.BadParameter("give exactly one of --product or --source")
    key, value = ("product_id", product) if product is not None else ("source", source)
    hint = f"'--{key.removesuffix('_id')}'"
    _required_text(value, hint)
    if unerasable(value):
        raise typer.BadParameter("must hold a letter or digit and not start or end with white space (no key "
                                 "does)", param_hint=hint)
    settings = _settings()
    policy, warehouse, folders = _stores(settings)
    audit = _control_audit(settings)
    keys = signing_keys(settings.audit_dir)
    try:
        counts = erase_subject(policy, warehouse, folders, key, value, audit, keys[0] if keys else None)
    except ErasureIncomplete as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    table = Table(title=f"Erased {key} = {value}")
    table.add_column("store")
    table.add_column("removed", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    console.print(table)
    removed = sum(counts.values())
    if removed:
        console.print(f"{removed:,} item(s) removed; recorded in {audit.path}", highlight=False, soft_wrap=True)
        retrain = read_events(audit.path)[-1]["details"]["retrain"]
        if retrain:
            # The models still hold what they learned from the subject until they are retrained.
            console.print(f"models that learned from it: {', '.join(retrain)}; the Dagster erasure_sensor "
                          "retrains each (stopped by default: switch it on in the UI, or launch retrain_job "
                          "for them)", highlight=False, soft_wrap=True)
    else:
        # Still recorded: the register answers for every request, including one about a subject never held.
        console.print(f"nothing held for {key} = {value} (keys match exactly, case included): 0 items removed; "
                      f"the request is recorded in {audit.path}", highlight=False, soft_wrap=True)
