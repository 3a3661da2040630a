"""Retention: apply the privacy policy's periods to every store of a state folder.

Each store's rows are aged on their own time (``crawled_at``, ``quarantined_at``, a file's
modification time, a decision-log day file's day) against a reference ``now`` the caller passes
in, so a drill on historical data can say "as of" any day. Warehouse rows past policy are deleted,
or folded into a table without personal data first (``action = "aggregate"``); staging and inbox
files are deleted; rows of the live loop's SQLite store are deleted; decision logs lose whole day
files (:mod:`commons.chain_retention`), recorded in the control audit log with the anchor
``audit verify`` then accepts.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .chain_retention import expire_days, file_day
from .chain_writer import log_files
from .control_audit import ControlAudit
from .privacy_policy import Policy, PolicyError, StorePolicy
from .settings import Settings
from .sqlite_tables import SqliteTables
from .warehouse import TABLE_COLUMNS, PrivacyTables, Warehouse


@dataclass(frozen=True)
class StoreFolders:
    """Where the file and chain stores of a state folder live (by policy store name)."""

    files: dict[str, Path]
    chains: dict[str, Path]
    databases: dict[str, Path]

    @classmethod
    def of(cls, settings: Settings) -> "StoreFolders":
        """The folders of ``settings``' state folder."""
        return cls(files={"staging": settings.staging_dir, "inbox": settings.inbox_dir,
                          "crawl_logs": settings.crawls_dir, "run_logs": settings.logs_dir},
                   chains={"decision_log": settings.decision_log_dir},
                   databases={"live": settings.live_store_path})

    def check(self, policy: Policy) -> None:
        """Refuse a policy naming a store, a time column or a database this state folder has no
        place for, before anything is read or removed (a misspelt one would otherwise fail half-way
        through a run, after other stores lost their rows).

        Raises:
            PolicyError: a table store that is no warehouse table or whose ``time`` is none of its
                columns, a files or chain store with no folder, a sqlite store whose database the
                state folder lacks or whose table (when present) has no such column, or an
                unknown kind.
        """
        folders = {"files": self.files, "chain": self.chains}
        unbound = []
        for store in policy.stores.values():
            if store.kind == "table":
                columns = TABLE_COLUMNS.get(store.name)
                if columns is None:
                    unbound.append(f"{store.name} (table)")
                elif store.time and store.time not in columns:
                    unbound.append(f"{store.name} (table without column {store.time!r})")
            elif store.kind == "sqlite":
                if store.database not in self.databases:
                    unbound.append(f"{store.name} (sqlite database {store.database!r})")
                elif store.time and store.time not in (columns := self._sqlite_columns(store)) and columns:
                    unbound.append(f"{store.name} (sqlite table {store.table!r} without column {store.time!r})")
            elif store.name not in folders.get(store.kind, {}):
                unbound.append(f"{store.name} ({store.kind})")
        if unbound:
            raise PolicyError(
                f"the privacy policy names what this state folder has no place for: {'; '.join(unbound)}; "
                f"tables: {', '.join(TABLE_COLUMNS)}; files: {', '.join(self.files)}; chains: "
                f"{', '.join(self.chains)}; sqlite databases: {', '.join(self.databases)}")

    def _sqlite_columns(self, store: StorePolicy) -> set[str]:
        try:
            return self.sqlite(store).columns(store.table)
        except sqlite3.Error:
            return set()  # a database that cannot be opened is the run's error, reported where it is used

    def sqlite(self, store: StorePolicy) -> SqliteTables:
        """The tables of a ``sqlite`` store's database."""
        return SqliteTables(self.databases[store.database])


def plain_files(root: Path) -> list[Path]:
    """Every file under ``root`` (none when it does not exist), sorted; not the empty ``*.lock``
    files processes take turns on, which hold no data."""
    if not Path(root).is_dir():
        return []
    return sorted(p for p in Path(root).rglob("*") if p.is_file() and p.suffix != ".lock")


def chain_folders(root: Path) -> list[Path]:
    """The chained log folders under a chain store's root (one per decision)."""
    return sorted({p.parent for p in Path(root).rglob("*.jsonl")}) if Path(root).is_dir() else []


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)


def overdue(policy: Policy, warehouse: Warehouse, folders: StoreFolders, now: datetime) -> dict[str, int]:
    """Rows (tables), files (folders) or day files (chains) older than their policy, per store.

    Raises:
        PolicyError: the policy names a store ``folders`` has no place for (:meth:`StoreFolders.check`).
    """
    folders.check(policy)
    tables, found = PrivacyTables(warehouse), {}
    for store in policy.stores.values():
        cutoff = store.cutoff(now)
        if cutoff is None:
            continue
        if store.kind == "table":
            found[store.name] = tables.overdue(store.name, store.time, cutoff)
        elif store.kind == "sqlite":
            found[store.name] = folders.sqlite(store).overdue(store.table, store.time, cutoff)
        elif store.kind == "files":
            found[store.name] = sum(_mtime(p) < cutoff for p in plain_files(folders.files[store.name]))
        else:
            found[store.name] = sum(1 for folder in chain_folders(folders.chains[store.name])
                                    for p in log_files(folder) if (d := file_day(p)) and d < cutoff.date())
    return found


def _apply_table(store: StorePolicy, tables: PrivacyTables, cutoff: datetime, now: datetime) -> dict[str, int]:
    folded = tables.fold_prices(cutoff, now) if store.action == "aggregate" else 0
    return {"removed": tables.expire(store.name, store.time, cutoff), "aggregated": folded}


def _apply_files(root: Path, cutoff: datetime) -> dict[str, int]:
    removed = 0
    for path in plain_files(root):
        if _mtime(path) < cutoff:
            path.unlink()
            removed += 1
    return {"removed": removed}


def reference_now(as_of: str) -> datetime:
    """``as_of`` as an aware UTC time, or the clock when empty.

    Raises:
        ValueError: ``as_of`` is not ISO 8601.
    """
    if not as_of:
        return datetime.now(timezone.utc)
    when = datetime.fromisoformat(as_of)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


class AsOfError(ValueError):
    """An ``as_of`` retention refuses (:func:`checked_reference_now`); its text is the one-line reason,
    ``unparsable`` tells a time that is no ISO 8601 from one out of range."""

    def __init__(self, message: str, unparsable: bool = False) -> None:
        super().__init__(message)
        self.unparsable = unparsable


def checked_reference_now(as_of: str, policy: Policy, allow_future: bool = False,
                          names: tuple[str, str] = ("as_of", "allow_future")) -> datetime:
    """``as_of`` as :func:`reference_now` reads it, refused where a retention run must not use it,
    for the command line and the Dagster asset alike; ``names`` are how the caller spells the time
    and the override in its messages (``--as-of``, ``--allow-future``).

    Raises:
        AsOfError: ``as_of`` is not ISO 8601 (``unparsable``), has no UTC time (past
            year 9999 or before year 1), lies later than now without ``allow_future``, or is so
            early that a store's cutoff falls before year 1.
    """
    name, override = names
    try:
        now = reference_now(as_of)
    except ValueError:
        raise AsOfError(f"{name} is not an ISO 8601 time: {as_of!r}", unparsable=True) from None
    try:
        now.astimezone(timezone.utc)  # stores compare in UTC: 9999-12-31T23:00-05:00 has no UTC time
    except OverflowError:
        raise AsOfError(f"{name} {as_of} has no UTC time (past year 9999 or before year 1)") from None
    clock = datetime.now(timezone.utc)
    # A typo (2207 for 2027) would otherwise empty every store on the spot; drills age data against
    # past or present times, so only a deliberate override reaches ahead of the clock.
    if now > clock and not allow_future:
        raise AsOfError(f"{name} {now.isoformat(timespec='seconds')} is later than now "
                        f"({clock.isoformat(timespec='seconds')}): retention would remove everything that will "
                        f"be past policy by then; pass {override} to do so")
    for store in policy.stores.values():
        try:
            store.cutoff(now)
        except OverflowError:  # checked before anything is removed: no store is left half-applied
            raise AsOfError(f"{name} {now.isoformat(timespec='seconds')} is too early: the cutoff of store "
                            f"{store.name!r} ({store.retention_days} days before it) falls before year 1") from None
    return now


def apply_retention(policy: Policy, warehouse: Warehouse, folders: StoreFolders, now: datetime,
                    audit: ControlAudit | None) -> dict[str, Any]:
    """Remove (or fold) everything past policy as of ``now``; returns per store ``{"removed": rows
    or files, "aggregated": rows folded}`` (chains: also ``lines`` and ``files``), and records the
    run in the control audit log (``retention``, with each expired chain's anchor) when ``audit``
    is given and anything went. A run that fails part-way records what went before the failure
    (with ``incomplete``: the error), then raises: a chain whose first days were cut verifies only
    from the anchor that event holds.

    Raises:
        PolicyError: the policy names a store ``folders`` has no place for; nothing is removed.
        OSError: a file cannot be read or removed; duckdb.Error: the warehouse cannot be written.
    """
    folders.check(policy)
    tables, result, chains = PrivacyTables(warehouse), {}, []
    try:
        for store in policy.stores.values():
            cutoff = store.cutoff(now)
            if cutoff is None:
                continue
            if store.kind == "table":
                result[store.name] = _apply_table(store, tables, cutoff, now)
            elif store.kind == "sqlite":
                result[store.name] = {"removed": folders.sqlite(store).expire(store.table, store.time, cutoff)}
            elif store.kind == "files":
                result[store.name] = _apply_files(folders.files[store.name], cutoff)
            else:
                result[store.name] = {"removed": 0, "files": 0}
                for folder in chain_folders(folders.chains[store.name]):
                    expiry = expire_days(folder, cutoff.date())
                    if expiry.files:
                        chains.append({"store": store.name, "folder": str(expiry.folder), "files": expiry.files,
                                       "lines": expiry.lines, "anchor": expiry.anchor,
                                       "anchor_seq": expiry.anchor_seq})
                        result[store.name]["removed"] += expiry.lines
                        result[store.name]["files"] += len(expiry.files)
    except Exception as err:
        _record_retention(audit, policy, now, result, chains, incomplete=f"{type(err).__name__}: {err}")
        raise
    _record_retention(audit, policy, now, result, chains)
    return result


def _record_retention(audit: ControlAudit | None, policy: Policy, now: datetime, result: dict[str, Any],
                      chains: list[dict[str, Any]], **incomplete: str) -> None:
    """The ``retention`` event of a run that removed anything (with ``incomplete`` when it failed after)."""
    if audit is not None and (chains or any(r["removed"] for r in result.values())):
        audit.record("retention", now=None, as_of=now.isoformat(), policy_version=policy.version,
                     removed={name: r["removed"] for name, r in result.items()}, chains=chains, **incomplete)
