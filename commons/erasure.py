"""Erasure on request: every stored trace of one subject, across every store of a state folder.

A subject is a value of a key the data carries: ``product_id`` or ``source``. (Reviewers have no
key to erase by: their names are replaced with ``<USER>`` before anything is stored.) Warehouse
rows go by that column (quarantine also by the record it kept); the live loop's SQLite rows by
that column or the value as a JSON string in the records they keep (:mod:`commons.sqlite_tables`);
staging and inbox JSON-lines files are rewritten without the subject's lines, crawl and process
logs without the lines that name it as a whole token; decision logs are rebuilt without them
(:func:`commons.chain_retention.erase_lines`: a tombstone would keep the identifier). Text that
carries no key (a log line, a quarantined row that did not parse) is matched on the value as a
token, so it is erased only once a keyed store held the subject: ``erase --source INFO`` must not
strip every log of its ``INFO`` lines. The control
audit log records the request, the counts and each rebuilt log's old and new head; it names the
subject, as an erasure register must, and the decisions whose models learned from it: the
``erasure_sensor`` retrains them (machine unlearning by retraining without the subject).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import logging
import os
import re
import sqlite3
from pathlib import Path
from typing import Any, Callable

import duckdb

from .chain_retention import erase_lines, holds, recorded_anchors
from .chain_verify import Fault, verify_folder
from .control_audit import ControlAudit, read_events
from .errors import EdgeInsightsError
from .privacy_policy import Policy
from .retention import StoreFolders, chain_folders, plain_files
from .sqlite_tables import SqliteTables
from .token_keys import SigningKey, TokenKeyError, jwks_path, trusted_keys
from .warehouse import TABLE_COLUMNS, PrivacyTables, Warehouse

KEYS = ("product_id", "source")
RETRAIN_SNAPSHOT = "features"
"""The warehouse table whose rows say which models learned from a subject (erased last)."""


LOG_LEVELS = frozenset(logging.getLevelNamesMapping())
"""Words every log line carries as its level: a subject keyed ``INFO`` is named in a log line only
in a URL, a ``key=value`` pair or quotes, or its erasure would strip every log of its INFO lines."""


def _names(raw: str, value: str) -> bool:
    """``value`` stands in ``raw`` as a whole token: a URL's ``/p-1/`` names ``p-1``, ``p-10``
    does not (a log line is text, not a record with a key); a :data:`LOG_LEVELS` word only after
    ``/``, ``=`` or a quote."""
    before = r"(?<=[/=\"'])" if value.upper() in LOG_LEVELS else r"(?<![\w-])"
    return re.search(rf"{before}{re.escape(value)}(?![\w-])", raw) is not None


def names_subject(raw: str, key: str, value: str, *, unkeyed: bool) -> bool:
    """Whether the stored text ``raw`` (a JSON-lines line, a quarantined record) is ``key = value``'s.

    A JSON object is the subject's when ``key`` holds ``value`` or ``value`` is a whole JSON string
    anywhere in it (a nested copy of the record). Text that does not parse is the subject's when it
    holds ``"key": "value"`` (compact or spaced: a broken record keeps its key), or, with
    ``unkeyed``, when it names ``value`` as a whole token (:func:`_names`; a log line).
    """
    try:
        row = json.loads(raw)
    except ValueError:
        quoted = "|".join(re.escape(json.dumps(value, ensure_ascii=flag)) for flag in (True, False))
        pair = rf"{re.escape(json.dumps(key))}\s*:\s*(?:{quoted})"
        return re.search(pair, raw) is not None or (unkeyed and _names(raw, value))
    return isinstance(row, dict) and (row.get(key) == value or json.dumps(value) in json.dumps(row))


def _newline_lines(text: str) -> list[str]:
    """``text`` cut after each ``\n`` only: JSON strings may hold U+2028 or U+0085 raw, which
    ``str.splitlines`` would take for line ends and leave half a record behind."""
    pieces = text.split("\n")
    return [piece + "\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])


def _csv_records(text: str) -> list[str] | None:
    """A CSV batch's header, then each record as its own text (quoted line breaks kept inside
    it); None when the text is not CSV the csv module can read."""
    lines = _newline_lines(text)
    # One pass: the reader's line_num says which physical lines each record took.
    reader = csv.reader(iter(lines), strict=True)
    records, start = [], 0
    try:
        for _ in reader:
            records.append("".join(lines[start:reader.line_num]))
            start = reader.line_num
    except csv.Error:  # a quote left open at the end, say
        return None
    return records if start == len(lines) else None


def _csv_names(record: str, header: list[str], key: str, value: str, *, unkeyed: bool) -> bool:
    """Whether one CSV record is the subject's: its ``key`` column holds ``value``, or (``unkeyed``)
    a field names it as a whole token."""
    [fields] = list(csv.reader(io.StringIO(record)))
    row = dict(zip(header, fields))
    return row.get(key) == value or (unkeyed and any(_names(field, value) for field in fields))


def _erase_file(path: Path, key: str, value: str, *, unkeyed: bool) -> int:
    """Rewrite one JSON-lines, CSV or log file without the subject's records (:func:`names_subject`;
    for a ``.csv`` pushed batch, :func:`_csv_names` on whole CSV records, its header kept), through a
    rename; returns how many records went. With ``unkeyed``, a file that is not UTF-8 text (or a
    ``.csv`` that is not CSV) and names the subject is deleted whole."""
    raw = path.read_bytes()
    if value.encode("utf-8") not in raw:
        return 0
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if path.suffix == ".csv" and text is not None:
        records = _csv_records(text)
        if records:
            header = next(csv.reader(io.StringIO(records[0].lstrip("\ufeff"))))
            body = [r for r in records[1:] if not (r.strip() and _csv_names(r, header, key, value, unkeyed=unkeyed))]
            return _rewrite(path, records[:1] + body, len(records))
        text = None
    if text is None:
        if not unkeyed:
            return 0
        path.unlink()
        return 1
    lines = _newline_lines(text)
    kept = [line for line in lines if not (line.strip() and names_subject(line, key, value, unkeyed=unkeyed))]
    return _rewrite(path, kept, len(lines))


def _rewrite(path: Path, kept: list[str], total: int) -> int:
    """Replace ``path`` with ``kept`` (through a rename) when records went; returns how many."""
    if len(kept) == total:
        return 0
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text("".join(kept), encoding="utf-8")
    os.replace(partial, path)
    return total - len(kept)


class ErasureIncomplete(EdgeInsightsError):
    """A store could not be read or written midway; what went before is recorded (``erasure_incomplete``
    in the control audit log), and the same request run again finishes it."""


class ChainTampered(EdgeInsightsError):
    """A decision log the erasure would rebuild does not verify: ``fault`` is the verifier's first bad line."""

    def __init__(self, fault: Fault) -> None:
        super().__init__(str(fault))
        self.fault = fault


def _chain_check(audit: ControlAudit | None) -> Callable[[Path], Fault | None]:
    """The first bad line of a log folder as ``audit verify`` finds it by default: the audit JWKS
    (when there is one) for checkpoint signatures, and the expiries the control audit log recorded.

    The check raises TokenKeyError when the audit JWKS cannot be read."""
    if audit is None:
        return lambda folder: verify_folder(folder).fault
    jwks = jwks_path(audit.audit_dir)
    # Read on the first log to check: a subject in no decision log is erased whatever the JWKS holds.
    trusted = functools.cache(lambda: trusted_keys(jwks) if jwks.is_file() else None)
    anchors = recorded_anchors(read_events(audit.path))
    return lambda folder: verify_folder(folder, trusted(), anchors=anchors).fault


def erase(policy: Policy, warehouse: Warehouse, folders: StoreFolders, key: str, value: str,
          audit: ControlAudit | None, signing_key: SigningKey | None) -> dict[str, int]:
    """Remove every trace of ``key = value`` (``key`` one of :data:`KEYS`); returns rows, lines or
    files removed per store, and records the erasure in ``audit`` (when given) with ``retrain``:
    the decisions whose example snapshot held the subject (read before it goes), for the Dagster
    ``erasure_sensor`` to retrain.

    Stores go in an order that lets a failed run be finished by running it again: what is derived
    from the subject's rows (insights, decision logs) before them, and the example snapshot, from
    which ``retrain`` is read, last.

    Every decision log that holds the subject is verified first (as ``audit verify`` does, with
    the audit JWKS and the recorded expiries of ``audit``): the rebuild re-hashes every line after
    the first one it takes and signs the result, so it would vouch for a forged line. When one does
    not verify, nothing is erased from any store (a ``--source`` erasure run again once the log is
    restored still finds, in the warehouse, the products whose lines it must take).

    Raises:
        ValueError: ``key`` is not one of :data:`KEYS` or ``value`` holds no letter or digit (a
            key is never punctuation alone, and log lines are matched on the value as a token).
        PolicyError: the policy names a store ``folders`` has no place for; nothing is removed.
        ErasureIncomplete: a file, the warehouse or the live store could not be read or written
            midway (recorded with the counts so far), or a decision log holding the subject does
            not verify, or the audit JWKS to verify it with cannot be read (either recorded;
            nothing removed, that log left as it is for ``audit verify``).
    """
    if key not in KEYS or not any(ch.isalnum() for ch in value):
        raise ValueError(f"erase by one of {', '.join(KEYS)} with a value holding a letter or digit")
    folders.check(policy)
    tables, counts, chains, retrain = PrivacyTables(warehouse), {}, [], []
    check = _chain_check(audit)
    try:
        if key in TABLE_COLUMNS[RETRAIN_SNAPSHOT]:
            retrain = tables.decisions_trained_on(key, value)
        _erase_stores(policy, tables, folders, key, value, signing_key, counts, chains, check)
    except (ChainTampered, TokenKeyError) as err:
        if isinstance(err, ChainTampered):
            finding = f"chain does not verify: {err}"
            why = (f"the decision log {err.fault.path.parent} does not verify (TAMPERED {err}); rebuilding it "
                   "would sign over that line, so nothing was erased; restore the log")
        else:
            finding = f"chain cannot be verified: {err}"
            why = (f"the decision logs holding it cannot be verified ({err}); nothing was erased; restore the "
                   "audit JWKS")
        if audit is not None:
            audit.record("erasure_incomplete", key=key, value=value, removed=counts, chains=chains,
                         retrain=retrain, error=finding)
        raise ErasureIncomplete(f"erasure of {key} = {value} refused: {why}, then run the same erase again") from None
    except (OSError, sqlite3.Error, duckdb.Error) as err:
        # One line: DuckDB's messages run over several.
        why = f"{type(err).__name__}: {' '.join(str(err).split())}"
        if audit is not None:
            audit.record("erasure_incomplete", key=key, value=value, removed=counts, chains=chains,
                         retrain=retrain, error=why)
        raise ErasureIncomplete(f"erasure of {key} = {value} stopped midway ({why}); "
                                "what was removed is recorded; run the same erase again to finish it") from err
    if audit is not None:
        audit.record("erasure", key=key, value=value, removed=counts, chains=chains, retrain=retrain)
    return counts


def _erase_stores(policy: Policy, tables: PrivacyTables, folders: StoreFolders, key: str, value: str,
                  signing_key: SigningKey | None, counts: dict[str, int], chains: list[dict[str, Any]],
                  check: Callable[[Path], Fault | None]) -> None:
    """:func:`erase`'s work, store by store in its order, filling ``counts`` and ``chains`` as it
    goes; first, before anything goes, ``check`` on every decision log to rebuild (ChainTampered)."""
    reported = _reported_products(policy, tables, folders, key, value)
    stores = list(policy.stores.values())
    logs = [f for s in stores if s.kind == "chain" for f in chain_folders(folders.chains[s.name])]

    def subjects(record: dict[str, Any]) -> bool:
        return record.get(key) == value or record.get("product_id") in reported

    for folder in logs:
        if holds(folder, subjects) and (fault := check(folder)) is not None:
            raise ChainTampered(fault)
    derived = [s for s in stores if s.kind == "table" and key not in TABLE_COLUMNS[s.name]]
    for store in derived:  # rows derived from the source's records name only their product (insights)
        counts[store.name] = (tables.erase_in(store.name, "product_id", reported)
                              if "product_id" in TABLE_COLUMNS[store.name] else 0)
    for store in (s for s in stores if s.kind == "chain"):
        done = [erase_lines(f, subjects, signing_key) for f in chain_folders(folders.chains[store.name])]
        chains += [{"folder": str(d.folder), "removed": d.removed, "old_head": d.old_head,
                    "new_head": d.new_head} for d in done if d.lines]
        counts[store.name] = sum(d.lines for d in done)
    for store in (s for s in stores if s.kind == "files"):
        counts[store.name] = sum(_erase_file(p, key, value, unkeyed=False)
                                 for p in plain_files(folders.files[store.name]))
    # A database's tables go together: a page's rows link them (an alert names only the page).
    for database in sorted({s.database for s in stores if s.kind == "sqlite"}):
        names = {s.table: s.name for s in stores if s.kind == "sqlite" and s.database == database}
        sqlite = SqliteTables(folders.databases[database])
        counts |= {names[table]: n for table, n in sqlite.erase(list(names), key, value).items()}
        if any(counts[name] for name in names.values()):
            sqlite.compact()
    keyed = [s.name for s in stores if s.kind == "table" and s not in derived]

    def erase_keyed(table: str) -> None:
        counts[table] = tables.erase(table, key, value, lambda raw: names_subject(raw, key, value, unkeyed=False))

    for table in keyed:
        if table != RETRAIN_SNAPSHOT:
            erase_keyed(table)
    if any(counts.values()):  # held under its key: now the text that names it without one
        _erase_unkeyed(stores, tables, folders, key, value, counts)
    if RETRAIN_SNAPSHOT in keyed:  # what retrain is read from goes last
        erase_keyed(RETRAIN_SNAPSHOT)
    if any(counts.get(s.name) for s in stores if s.kind == "table"):
        tables.warehouse.compact()  # deleted rows' bytes must leave the file too


def _erase_unkeyed(stores: list, tables: PrivacyTables, folders: StoreFolders, key: str, value: str,
                   counts: dict[str, int]) -> None:
    """Once a keyed store held the subject: the text that names it without a key (log lines, a
    quarantined record that did not parse)."""
    for store in stores:
        if store.kind == "files":
            counts[store.name] += sum(_erase_file(p, key, value, unkeyed=True)
                                      for p in plain_files(folders.files[store.name]))
        elif store.kind == "table" and store.name == "quarantine" and key in TABLE_COLUMNS[store.name]:
            counts[store.name] += tables.erase(store.name, key, value,
                                               lambda raw: names_subject(raw, key, value, unkeyed=True))


def _reported_products(policy: Policy, tables: PrivacyTables, folders: StoreFolders, key: str,
                       value: str) -> set[str]:
    """For ``source = value``, the product ids its records named (warehouse and live store), read
    before anything goes: insights and decision-log lines carry a product id but no source, and are
    derived from those records (a product another source reported too loses them as well). Empty
    for ``product_id``, which those rows carry themselves."""
    if key != "source":
        return set()
    found = tables.product_ids(key, value)
    for database in {s.database for s in policy.stores.values() if s.kind == "sqlite"}:
        names = [s.table for s in policy.stores.values() if s.kind == "sqlite" and s.database == database]
        found |= SqliteTables(folders.databases[database]).product_ids(names, key, value)
    return found


def traces(policy: Policy, warehouse: Warehouse, folders: StoreFolders, value: str) -> dict[str, Any]:
    """Where ``value`` still appears: rows per table (any column, as text), and the files of the
    file and chain stores whose text holds it as a whole token. Empty lists and zeros after a complete erasure.

    Raises:
        PolicyError: the policy names a store ``folders`` has no place for.
    """
    folders.check(policy)
    tables = PrivacyTables(warehouse)
    found: dict[str, Any] = {}
    for store in policy.stores.values():
        if store.kind == "table":
            found[store.name] = tables.mentions(store.name, value)
        elif store.kind == "sqlite":
            found[store.name] = folders.sqlite(store).mentions(store.table, value)
        else:
            root = folders.files[store.name] if store.kind == "files" else folders.chains[store.name]
            found[store.name] = [str(p) for p in plain_files(root)
                                 if _names(p.read_bytes().decode("utf-8", "replace"), value)]
    return found
