"""What is held, where and until when: the rows of ``edge-insights privacy report``.

One row per store of the policy: its kind and location, its region(s), how many rows (tables),
files (folders) or day files and lines (chained logs) it holds, its oldest item, and the date
that oldest item leaves by policy (the oldest item's time plus the retention period); and the
state-folder entries that hold no subject key, or that nothing in the policy accounts for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .chain_retention import file_day
from .chain_writer import log_files
from .privacy_policy import Policy, StorePolicy
from .retention import StoreFolders, chain_folders, plain_files
from .sqlite_tables import SqliteTables
from .warehouse import PrivacyTables, Warehouse


@dataclass(frozen=True)
class Holding:
    """One store as held: ``count`` rows/files, ``lines`` (chains), ``oldest`` and ``until``
    (``YYYY-MM-DD HH:MM UTC`` or None; an aggregated store's rows are folded then, not deleted),
    ``retention`` in words, and the policy's ``purpose`` and ``why``."""

    store: str
    kind: str
    where: str
    regions: str
    count: int
    lines: int | None
    oldest: str | None
    until: str | None
    retention: str
    purpose: str
    why: str

    def to_dict(self) -> dict:
        """The row as a plain dict (``privacy report --json``)."""
        return asdict(self)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if value else None


def _retention(store: StorePolicy) -> str:
    if not store.retention_days:
        return "not time-bound"
    days = f"{store.retention_days} day{'s' if store.retention_days > 1 else ''}"
    return f"{days}, then folded into {store.aggregate_into}" if store.action == "aggregate" else days


def holdings(policy: Policy, warehouse: Warehouse, folders: StoreFolders) -> list[Holding]:
    """The privacy report's rows, in policy order.

    Raises:
        PolicyError: the policy names a store ``folders`` has no place for.
    """
    folders.check(policy)
    tables, rows = PrivacyTables(warehouse), []
    for store in policy.stores.values():
        lines, oldest = None, None
        if store.kind == "table":
            count, oldest = tables.held(store.name, store.time or None)
            where = f"warehouse:{store.name}"
        elif store.kind == "sqlite":
            count, oldest = folders.sqlite(store).held(store.table, store.time or None)
            where = f"{folders.databases[store.database]}:{store.table}"
        elif store.kind == "files":
            files = plain_files(folders.files[store.name])
            count, where = len(files), str(folders.files[store.name])
            oldest = min((datetime.fromtimestamp(p.stat().st_mtime, timezone.utc) for p in files), default=None)
        else:
            files = [p for f in chain_folders(folders.chains[store.name]) for p in log_files(f)]
            count, where = len(files), str(folders.chains[store.name])
            lines = sum(p.read_bytes().count(b"\n") for p in files)
            days = [d for p in files if (d := file_day(p))]
            oldest = datetime.combine(min(days), datetime.min.time(), timezone.utc) if days else None
        until = oldest + timedelta(days=store.retention_days) if oldest and store.retention_days else None
        rows.append(Holding(store=store.name, kind=store.kind, where=where, regions=", ".join(store.regions),
                            count=count, lines=lines, oldest=_iso(oldest), until=_iso(until),
                            retention=_retention(store), purpose=store.purpose, why=store.why))
    return rows


def unaccounted(policy: Policy, warehouse: Warehouse, folders: StoreFolders, state_dir: Path) -> list[str]:
    """What the state folder holds that neither a store of the policy nor its ``unkeyed`` list
    accounts for: data whose retention and erasure nobody decided. Entries of the folder by name,
    tables as ``warehouse:<table>`` or ``<database>:<table>`` (a table someone added to the
    warehouse or the live store). Empty for a state folder the pipeline alone wrote."""
    root = Path(state_dir)
    if not root.is_dir():
        return []
    located = [*folders.files.values(), *folders.chains.values(), *folders.databases.values(), warehouse.path]
    covered = {Path(p).relative_to(root).parts[0] for p in located if Path(p).is_relative_to(root)}
    # DuckDB and SQLite keep a write-ahead log beside their file ("warehouse.duckdb.wal").
    stems = {Path(p).name for p in located}
    stray = [entry.name for entry in root.iterdir()
             if entry.name not in covered | set(policy.unkeyed)
             and not any(entry.name.startswith(f"{stem}.") for stem in stems)]
    stores = policy.stores.values()
    tables = {f"warehouse:{t}" for t in PrivacyTables(warehouse).tables()} - {
        f"warehouse:{s.name}" for s in stores if s.kind == "table"}
    for database, path in folders.databases.items():
        tables |= {f"{database}:{t}" for t in SqliteTables(path).tables()} - {
            f"{database}:{s.table}" for s in stores if s.kind == "sqlite" and s.database == database}
    return sorted([*stray, *(tables - set(policy.unkeyed))])
