"""DuckDB warehouse: the tables between assets.

Tables (one row = one signal record, provenance flattened):
    scrubbed_signals   PII-free records of each harvest partition (``partition_key``, ``intake``)
    validated_signals  records of each harvest partition that passed the row rules
    signal_history     every new observation of every partition (see ``_insert_observations``)
    quarantine         every row that left the flow in any run, with run_id, stage and reason
    features           labelled examples per decision with their split (train/calibration/eval)
    price_monthly      per product and month: price figures of observations past retention
                       (:mod:`commons.retention` folds them in; no person, no free text)

Re-materialising a partition replaces that partition's rows; the feature table is a snapshot
replaced whole by each build. ``intake`` tags the door a row came in by: ``books`` (shop offers,
crawled or pushed), ``reviews`` or ``prices`` (backfilled price histories).

All SQL of the project lives in this module; frames come back as polars (DuckDB ↔ polars through
Arrow). Every read and write opens and closes its own connection, so concurrent Dagster steps
(separate processes) never hold the file lock for long; a connection that finds the file held by
another process (DuckDB lets one process open it at a time: a step, the watcher's flush, a
notebook) waits for it, up to :data:`LOCK_WAIT_S`.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import duckdb
import polars as pl

#: Seconds a connection waits for another process's connection to the file to close. Each holds
#: it for one statement batch (the watcher's flush, 0.4-0.6 s on 2 cores, is the longest).
LOCK_WAIT_S = 30.0
# "IO Error: Could not set lock on file ...: Conflicting lock is held in ..." (DuckDB 1.x).
_LOCK_HELD = "Could not set lock"

SIGNAL_DDL = """
    run_id VARCHAR, intake VARCHAR, source VARCHAR, url VARCHAR, product_id VARCHAR, title VARCHAR,
    price DECIMAL(18, 4), currency VARCHAR, availability VARCHAR, stock_count BIGINT,
    rating DOUBLE, review_text VARCHAR[], author VARCHAR, feedback BOOLEAN,
    crawled_at TIMESTAMPTZ, content_digest VARCHAR, crawl_id VARCHAR, spider_version VARCHAR,
    http_status INTEGER, response_digest VARCHAR, partition_key VARCHAR
"""
SIGNAL_COLUMNS = [c.split()[0] for c in SIGNAL_DDL.replace("DECIMAL(18, 4)", "DECIMAL").split(",")]
QUARANTINE_DDL = """
    run_id VARCHAR, stage VARCHAR, source VARCHAR, url VARCHAR, product_id VARCHAR,
    http_status INTEGER, reason VARCHAR, record_json VARCHAR, crawl_id VARCHAR,
    quarantined_at TIMESTAMPTZ
"""
QUARANTINE_COLUMNS = [c.split()[0] for c in QUARANTINE_DDL.split(",")]
FEATURES_DDL = ("run_id VARCHAR, decision VARCHAR, split VARCHAR, text VARCHAR, label INTEGER, "
                "product_id VARCHAR, source VARCHAR, numbers DOUBLE[]")
FEATURE_COLUMNS = [c.split()[0] for c in FEATURES_DDL.split(",")]
PRICE_MONTHLY_DDL = ("product_id VARCHAR, source VARCHAR, currency VARCHAR, month DATE, observations BIGINT, "
                     "min_price DECIMAL(18, 4), max_price DECIMAL(18, 4), mean_price DOUBLE, folded_at TIMESTAMPTZ")
INSIGHTS_DDL = ("insight_id VARCHAR PRIMARY KEY, decision VARCHAR, label VARCHAR, score DOUBLE, route VARCHAR, "
                "alert BOOLEAN, product_id VARCHAR, url VARCHAR, kind VARCHAR, before VARCHAR, after VARCHAR, "
                "changed_at TIMESTAMPTZ, decided_at TIMESTAMPTZ, published_at TIMESTAMPTZ, model_version VARCHAR, "
                "bundle_sha256 VARCHAR, signal_digest VARCHAR")
INSIGHT_COLUMNS = [c.split()[0] for c in INSIGHTS_DDL.split(",")]
TABLE_COLUMNS = {
    **{t: SIGNAL_COLUMNS for t in ("scrubbed_signals", "validated_signals", "signal_history")},
    "quarantine": QUARANTINE_COLUMNS, "features": FEATURE_COLUMNS, "insights": INSIGHT_COLUMNS,
    "price_monthly": [c.split()[0] for c in PRICE_MONTHLY_DDL.replace("DECIMAL(18, 4)", "DECIMAL").split(",")],
}
"""Every table and its columns: the only names retention, erasure and the privacy report may put
into SQL (they come from the policy file and the command line)."""

# Frames handed to DuckDB: timestamps travel as ISO text and money as decimal text, cast by the
# INSERT itself, so neither passes through a float or a client-side time-zone guess.
_TEXT = pl.Utf8
SIGNAL_SCHEMA = {**{c: _TEXT for c in SIGNAL_COLUMNS}, "stock_count": pl.Int64, "rating": pl.Float64,
                 "review_text": pl.List(pl.Utf8), "feedback": pl.Boolean, "http_status": pl.Int64}
QUARANTINE_SCHEMA = {**{c: _TEXT for c in QUARANTINE_COLUMNS}, "http_status": pl.Int64}
FEATURE_SCHEMA = {**{c: _TEXT for c in FEATURE_COLUMNS}, "label": pl.Int64, "numbers": pl.List(pl.Float64)}

# The signal_history slice each decision's examples are built from (training.decisions).
HISTORY_QUERIES = {
    # Ordered: the history's row order follows the order review files were staged in, which the
    # file system decides; examples (and so training) must not depend on it.
    "reviews": ("SELECT product_id, source, review_text, rating, feedback FROM signal_history "
                "WHERE intake = 'reviews' ORDER BY source, product_id, content_digest"),
    "prices": ("SELECT product_id, title, CAST(price AS DOUBLE) AS price, crawled_at FROM signal_history "
               "WHERE intake = 'prices' AND price IS NOT NULL"),
    "stock": ("SELECT product_id, title, stock_count, availability, crawled_at FROM signal_history "
              "WHERE intake = 'books'"),
}


def _iso(value: Any) -> Any:
    return value.astimezone(timezone.utc).isoformat() if isinstance(value, datetime) else value


def _frame(rows: list[dict[str, Any]], schema: dict[str, Any]) -> pl.DataFrame:
    """Rows → a frame with exactly ``schema``'s columns (missing keys are null)."""
    return pl.DataFrame([{c: _iso(r.get(c)) for c in schema} for r in rows], schema=schema, orient="row"
                        ) if rows else pl.DataFrame(schema=schema)


def _select(columns: list[str], casts: dict[str, str]) -> str:
    return ", ".join(f"CAST({c} AS {casts[c]}) AS {c}" if c in casts else c for c in columns)


_SIGNAL_CASTS = {"price": "DECIMAL(18, 4)", "crawled_at": "TIMESTAMPTZ"}


def flatten(record: dict[str, Any], run_id: str, intake: str, partition_key: str | None = None) -> dict[str, Any]:
    """A signal-record dict (nested provenance) → one warehouse row of a harvest partition."""
    prov = record.get("provenance") or {}
    row = {k: _iso(record.get(k)) for k in SIGNAL_COLUMNS}
    row.update(run_id=run_id, intake=intake, crawl_id=prov.get("crawl_id"),
               spider_version=prov.get("spider_version"), http_status=prov.get("http_status"),
               response_digest=prov.get("response_digest"), partition_key=partition_key)
    return row


def unflatten(row: dict[str, Any]) -> dict[str, Any]:
    """A warehouse row → signal-record dict (price as string, crawled_at ISO, nested provenance)."""
    record = {k: row[k] for k in SIGNAL_COLUMNS if k not in
              ("run_id", "intake", "crawl_id", "spider_version", "http_status", "response_digest",
               "partition_key")}
    # Prices are read as DECIMAL text (see Warehouse.signals), never through a float.
    record["price"] = None if row["price"] is None else format(Decimal(row["price"]).normalize(), "f")
    if record.get("review_text") is not None:
        record["review_text"] = list(record["review_text"])
    record["crawled_at"] = _iso(row.get("crawled_at"))
    record["provenance"] = {"crawl_id": row["crawl_id"], "spider_version": row["spider_version"],
                            "http_status": None if row["http_status"] is None else int(row["http_status"]),
                            "response_digest": row["response_digest"]}
    return record


class Warehouse:
    """Access layer over one DuckDB file (``<state>/warehouse.duckdb``).

    Args:
        path: the DuckDB file (created with its folder when missing).
        threads: DuckDB worker threads per connection (None: DuckDB's default, every core). A
            process on a latency path caps it so a query cannot take every core from it.
    """

    def __init__(self, path: Path, threads: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.threads = threads

    def _open(self) -> duckdb.DuckDBPyConnection:
        config = {} if self.threads is None else {"threads": self.threads}
        deadline, pause = time.monotonic() + LOCK_WAIT_S, 0.02
        while True:
            try:
                return duckdb.connect(str(self.path), config=config)
            except duckdb.IOException as error:
                if _LOCK_HELD not in str(error) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with every table created, closed when the block ends; waits up to
        :data:`LOCK_WAIT_S` while another process has the file open.

        Raises:
            duckdb.IOException: the file is still held by another process after that wait, or
                cannot be opened at all.
        """
        con = self._open()
        try:
            con.execute(f"CREATE TABLE IF NOT EXISTS scrubbed_signals ({SIGNAL_DDL})")
            con.execute(f"CREATE TABLE IF NOT EXISTS validated_signals ({SIGNAL_DDL})")
            con.execute(f"CREATE TABLE IF NOT EXISTS signal_history ({SIGNAL_DDL})")
            con.execute(f"CREATE TABLE IF NOT EXISTS quarantine ({QUARANTINE_DDL})")
            con.execute(f"CREATE TABLE IF NOT EXISTS features ({FEATURES_DDL})")
            con.execute(f"CREATE TABLE IF NOT EXISTS price_monthly ({PRICE_MONTHLY_DDL})")
            con.execute(f"CREATE TABLE IF NOT EXISTS insights ({INSIGHTS_DDL})")
            yield con
        finally:
            con.close()

    def write_signals(self, table: str, partition_key: str, rows: list[dict[str, Any]]) -> int:
        """Replace one partition's rows of ``table`` with ``rows`` (flattened); returns the count."""
        frame = _frame([{**r, "partition_key": partition_key} for r in rows], SIGNAL_SCHEMA)
        with self.connect() as con:
            con.execute(f"DELETE FROM {table} WHERE partition_key = ?", [partition_key])
            if len(frame):
                con.register("frame", frame)
                con.execute(f"INSERT INTO {table} SELECT {_select(SIGNAL_COLUMNS, _SIGNAL_CASTS)} FROM frame")
        return len(frame)

    def append_history(self) -> tuple[int, int]:
        """Append every validated partition to ``signal_history``; partitions already appended add
        nothing (see :meth:`_insert_observations`). Returns (added, total)."""
        with self.connect() as con:
            return self._insert_observations(con, "validated_signals")

    def append_rows_to_history(self, run_id: str, rows: list[dict[str, Any]]) -> tuple[int, int]:
        """Append flattened, already validated rows (a backfill) to ``signal_history``.
        Returns (added, total)."""
        frame = _frame(rows, SIGNAL_SCHEMA)
        with self.connect() as con:
            con.register("raw", frame)
            con.execute(f"CREATE TEMP TABLE frame AS SELECT {_select(SIGNAL_COLUMNS, _SIGNAL_CASTS)} FROM raw")
            return self._insert_observations(con, "frame")

    @staticmethod
    def _insert_observations(con: duckdb.DuckDBPyConnection, source: str) -> tuple[int, int]:
        """Insert rows of ``source`` that are new observations; returns (added, total).

        * Reviews are events: a review already stored (same content digest) is not stored again.
        * Shop observations (prices, stock) are a time series per product: a row is stored only
          when its content differs from the product's previous observation (in the batch, else
          the latest stored one at or before it). Re-crawling unchanged pages — or re-running a
          partition — adds nothing, while a price that goes A → B → A keeps all three changes,
          so "price at time T" stays exact.
        """
        before = con.execute("SELECT count(*) FROM signal_history").fetchall()[0][0]
        con.execute(f"""
            INSERT INTO signal_history
            SELECT * FROM {source} v WHERE v.intake = 'reviews' AND NOT EXISTS (
                SELECT 1 FROM signal_history h
                WHERE h.content_digest = v.content_digest AND h.intake = v.intake)
            QUALIFY row_number() OVER (PARTITION BY content_digest ORDER BY crawled_at) = 1
        """)
        columns = ", ".join(f"b.{c}" for c in SIGNAL_COLUMNS)
        con.execute(f"""
            INSERT INTO signal_history
            WITH batch AS (
                SELECT *, lag(content_digest) OVER (
                    PARTITION BY intake, product_id ORDER BY crawled_at, content_digest) AS previous
                FROM {source} WHERE intake <> 'reviews')
            SELECT {columns} FROM batch b
            ASOF LEFT JOIN signal_history h
                ON b.intake = h.intake AND b.product_id = h.product_id AND b.crawled_at >= h.crawled_at
            WHERE coalesce(b.previous, h.content_digest, '') <> b.content_digest AND NOT EXISTS (
                SELECT 1 FROM signal_history x
                WHERE x.intake = b.intake AND x.product_id = b.product_id
                  AND x.crawled_at = b.crawled_at AND x.content_digest = b.content_digest)
        """)
        after = con.execute("SELECT count(*) FROM signal_history").fetchall()[0][0]
        return after - before, after

    def append_insights(self, rows: list[dict[str, Any]]) -> int:
        """Insert live-loop insights (:data:`INSIGHT_COLUMNS`; ``before``/``after`` as JSON text);
        an ``insight_id`` already stored is skipped. Returns how many were added."""
        if not rows:
            return 0
        frame = pl.DataFrame([{c: r.get(c) for c in INSIGHT_COLUMNS} for r in rows],
                             schema={**{c: _TEXT for c in INSIGHT_COLUMNS}, "score": pl.Float64,
                                     "alert": pl.Boolean})
        casts = {"changed_at": "TIMESTAMPTZ", "decided_at": "TIMESTAMPTZ", "published_at": "TIMESTAMPTZ"}
        with self.connect() as con:
            con.register("raw", frame)
            before = con.execute("SELECT count(*) FROM insights").fetchall()[0][0]
            con.execute(f"INSERT INTO insights SELECT {_select(INSIGHT_COLUMNS, casts)} FROM raw "
                        "ON CONFLICT DO NOTHING")
            return con.execute("SELECT count(*) FROM insights").fetchall()[0][0] - before

    def price_at(self, product_id: str, at: str) -> dict[str, Any] | None:
        """The last observed price of ``product_id`` at or before ``at`` (ISO-8601; UTC if naive).

        Returns {price (decimal string), currency, crawled_at (ISO), source} or None if the product
        had no priced observation by then.
        """
        with self.connect() as con:
            row = con.execute("""
                SELECT CAST(price AS VARCHAR), currency, crawled_at, source FROM signal_history
                WHERE product_id = ? AND price IS NOT NULL AND crawled_at <= CAST(? AS TIMESTAMPTZ)
                ORDER BY crawled_at DESC LIMIT 1""", [product_id, at]).fetchone()
        if row is None:
            return None
        return {"price": format(Decimal(row[0]).normalize(), "f"), "currency": row[1],
                "crawled_at": _iso(row[2]), "source": row[3]}

    def write_quarantine(self, run_id: str, stage: str, rows: list[dict[str, Any]]) -> int:
        """Replace this run's quarantine rows of ``stage``; returns the count."""
        frame = _frame([{**r, "run_id": run_id} for r in rows], QUARANTINE_SCHEMA)
        with self.connect() as con:
            con.execute("DELETE FROM quarantine WHERE run_id = ? AND stage = ?", [run_id, stage])
            if len(frame):
                con.register("frame", frame)
                con.execute(f"INSERT INTO quarantine SELECT "
                            f"{_select(QUARANTINE_COLUMNS, {'quarantined_at': 'TIMESTAMPTZ'})} FROM frame")
        return len(frame)

    def signals(self, table: str, where: str = "TRUE", params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a signal table as signal-record dicts (see :func:`unflatten`), with ``intake``."""
        frame = self.frame(f"SELECT * REPLACE (CAST(price AS VARCHAR) AS price) FROM {table} WHERE {where}",
                           params)
        return [{**unflatten(row), "intake": row["intake"]} for row in frame.to_dicts()]

    def frame(self, sql: str, params: Iterable[Any] = ()) -> pl.DataFrame:
        """Any read query as a polars DataFrame."""
        with self.connect() as con:
            return con.sql(sql, params=list(params) or None).pl()

    def history(self, query: str) -> pl.DataFrame:
        """One slice of ``signal_history`` named in :data:`HISTORY_QUERIES` (``reviews``,
        ``prices``, ``stock``).

        Raises:
            KeyError: unknown slice.
        """
        return self.frame(HISTORY_QUERIES[query])

    def features(self, decision: str, split: str) -> pl.DataFrame:
        """One split of a decision's example snapshot (text, label, numbers, source), in written order."""
        # rowid keeps the written order, which the teacher's saved logits are aligned with
        return self.frame("SELECT text, label, numbers, source FROM features WHERE decision = ? AND split = ? "
                          "ORDER BY rowid", [decision, split])

    def feature_products(self, decision: str, split: str) -> set[str]:
        """Product ids in one split of a decision's example snapshot (empty before it is built)."""
        return set(self.frame("SELECT DISTINCT product_id FROM features WHERE decision = ? AND split = ?",
                              [decision, split])["product_id"].to_list())

    def compact(self) -> None:
        """Rewrite the file with its live rows only (through a rename). DuckDB keeps a deleted
        row's bytes in freed blocks until they are reused; an erasure must not leave them on disk.
        Run it when no other process writes the warehouse (an erasure is an operator's action)."""
        fresh = self.path.with_name(f".{self.path.name}.compact")
        fresh.unlink(missing_ok=True)
        with self.connect() as con:
            name = con.execute("SELECT current_database()").fetchone()[0]
            con.execute("ATTACH ? AS compacted", [str(fresh)])
            con.execute(f'COPY FROM DATABASE "{name}" TO compacted')
            con.execute("DETACH compacted")
        os.replace(fresh, self.path)

    def validated(self, intake: str, run_id: str) -> pl.DataFrame:
        """The rows of one intake that a run validated."""
        return self.frame("SELECT * FROM validated_signals WHERE intake = ? AND run_id = ?", [intake, run_id])

    def validate_counts(self, run_id: str) -> dict[str, Any] | None:
        """Rows in, out and quarantined by a run's validate stage (its harvest partition), or None
        when the run validated nothing: ``{"partition", "in", "out", "quarantined"}``."""
        keys = self.frame("SELECT DISTINCT partition_key FROM validated_signals WHERE run_id = ?", [run_id])
        if keys.is_empty():
            return None
        key = keys["partition_key"][0]
        with self.connect() as con:
            count = lambda sql, params: con.execute(sql, params).fetchone()[0]  # noqa: E731
            return {"partition": key,
                    "in": count("SELECT count(*) FROM scrubbed_signals WHERE partition_key = ?", [key]),
                    "out": count("SELECT count(*) FROM validated_signals WHERE partition_key = ?", [key]),
                    "quarantined": count("SELECT count(*) FROM quarantine WHERE run_id = ? AND stage = 'validate'",
                                         [run_id])}

    def quarantine_reasons(self, run_ids: list[str]) -> list[dict[str, Any]]:
        """``{stage, reason, n}`` per quarantine reason of the given runs, most frequent first."""
        return self.frame("SELECT stage, reason, count(*) AS n FROM quarantine WHERE list_contains(?, run_id) "
                          "GROUP BY stage, reason ORDER BY n DESC, stage, reason", [run_ids]).to_dicts()

    def write_features(self, decision: str, run_id: str, rows: list[dict[str, Any]]) -> int:
        """Replace one decision's example snapshot."""
        frame = _frame([{**r, "run_id": run_id, "decision": decision} for r in rows], FEATURE_SCHEMA)
        with self.connect() as con:
            con.execute("DELETE FROM features WHERE decision = ?", [decision])
            if len(frame):
                con.register("frame", frame)
                con.execute(f"INSERT INTO features SELECT {', '.join(FEATURE_COLUMNS)} FROM frame")
        return len(frame)


def _column(table: str, column: str) -> None:
    """Refuse a table or column this module does not define (names reach SQL as text)."""
    if column not in TABLE_COLUMNS.get(table, ()):
        raise KeyError(f"no column {column!r} in warehouse table {table!r}")


class PrivacyTables:
    """The warehouse's part in retention, erasure and the privacy report: counts, ages and
    deletions by table, with table and column names checked against :data:`TABLE_COLUMNS`."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def held(self, table: str, column: str | None) -> tuple[int, datetime | None]:
        """(rows, oldest ``column`` value or None) of ``table``; ``column`` None: no age."""
        _column(table, column or TABLE_COLUMNS[table][0])
        with self.warehouse.connect() as con:
            rows, oldest = con.execute(f"SELECT count(*), {f'min({column})' if column else 'NULL'} "
                                       f"FROM {table}").fetchone()
        return rows, oldest

    def overdue(self, table: str, column: str, cutoff: datetime) -> int:
        """Rows of ``table`` whose ``column`` is before ``cutoff``."""
        _column(table, column)
        with self.warehouse.connect() as con:
            return con.execute(f"SELECT count(*) FROM {table} WHERE {column} < ?", [cutoff]).fetchone()[0]

    def expire(self, table: str, column: str, cutoff: datetime) -> int:
        """Delete the rows of ``table`` whose ``column`` is before ``cutoff``; returns how many."""
        _column(table, column)
        with self.warehouse.connect() as con:
            removed = con.execute(f"SELECT count(*) FROM {table} WHERE {column} < ?", [cutoff]).fetchone()[0]
            con.execute(f"DELETE FROM {table} WHERE {column} < ?", [cutoff])
            con.execute("CHECKPOINT")
        return removed

    def fold_prices(self, cutoff: datetime, now: datetime) -> int:
        """Fold priced ``signal_history`` rows before ``cutoff`` into ``price_monthly`` (one row per
        product, source, currency and month of this fold); returns the source rows folded. The
        caller then expires them."""
        with self.warehouse.connect() as con:
            folded = con.execute("SELECT count(*) FROM signal_history WHERE price IS NOT NULL AND crawled_at < ?",
                                 [cutoff]).fetchone()[0]
            con.execute("""
                INSERT INTO price_monthly
                SELECT product_id, source, currency, CAST(date_trunc('month', crawled_at) AS DATE), count(*),
                       min(price), max(price), avg(CAST(price AS DOUBLE)), CAST(? AS TIMESTAMPTZ)
                FROM signal_history WHERE price IS NOT NULL AND crawled_at < ?
                GROUP BY ALL""", [now, cutoff])
        return folded

    def erase(self, table: str, column: str, value: str,
              names_record: Callable[[str], bool] | None = None) -> int:
        """Delete every row of ``table`` whose ``column`` is ``value``, and of ``quarantine`` also
        every row whose kept record ``names_record`` (called on each ``record_json`` that holds
        ``value`` as a substring); returns how many. Deleted data is checkpointed out of the file."""
        _column(table, column)
        with self.warehouse.connect() as con:
            if table == "quarantine" and names_record is not None:
                # A record kept as ASCII JSON spells a non-ASCII value with \u escapes.
                escaped = json.dumps(value)[1:-1]
                rows = con.execute(f"SELECT rowid, {column} = ?, record_json FROM {table} WHERE {column} = ? "
                                   "OR contains(record_json, ?) OR contains(record_json, ?)",
                                   [value, value, value, escaped]).fetchall()
                doomed = [rowid for rowid, keyed, record in rows if keyed or names_record(record or "")]
            else:
                doomed = [rowid for (rowid,) in con.execute(f"SELECT rowid FROM {table} WHERE {column} = ?",
                                                            [value]).fetchall()]
            if doomed:
                con.execute(f"DELETE FROM {table} WHERE rowid IN (SELECT unnest(?))", [doomed])
                con.execute("CHECKPOINT")
        return len(doomed)

    def erase_in(self, table: str, column: str, values: set[str]) -> int:
        """Delete every row of ``table`` whose ``column`` is one of ``values``; returns how many."""
        _column(table, column)
        if not values:
            return 0
        with self.warehouse.connect() as con:
            doomed = con.execute(f"SELECT count(*) FROM {table} WHERE {column} IN (SELECT unnest(?))",
                                 [sorted(values)]).fetchone()[0]
            if doomed:
                con.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT unnest(?))", [sorted(values)])
                con.execute("CHECKPOINT")
        return doomed

    def product_ids(self, column: str, value: str) -> set[str]:
        """The product ids of every row, in any table holding both ``column`` and ``product_id``,
        whose ``column`` is ``value``: the products a source reported."""
        found: set[str] = set()
        with self.warehouse.connect() as con:
            present = {name for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
            for table, columns in TABLE_COLUMNS.items():
                if table in present and column in columns and "product_id" in columns:
                    found |= {pid for (pid,) in con.execute(
                        f"SELECT DISTINCT product_id FROM {table} WHERE {column} = ?", [value]).fetchall()}
        return found - {None}

    def decisions_trained_on(self, column: str, value: str) -> list[str]:
        """Decisions whose example snapshot (``features``) holds a row with ``column = value``:
        their models may have learned from that subject. Sorted."""
        _column("features", column)
        with self.warehouse.connect() as con:
            rows = con.execute(f"SELECT DISTINCT decision FROM features WHERE {column} = ? ORDER BY 1",
                               [value]).fetchall()
        return [decision for (decision,) in rows]

    def tables(self) -> list[str]:
        """Every table of the warehouse file (the ones this module defines and any other), sorted."""
        with self.warehouse.connect() as con:
            return [name for (name,) in con.execute(
                "SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]

    def mentions(self, table: str, value: str) -> int:
        """Rows of ``table`` in which ``value`` appears in any column (as text): the proof of an
        erasure."""
        _column(table, TABLE_COLUMNS[table][0])
        with self.warehouse.connect() as con:
            return con.execute(f"SELECT count(*) FROM {table} t WHERE contains(CAST(t AS VARCHAR), ?)",
                               [value]).fetchone()[0]
