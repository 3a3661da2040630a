"""DuckDB warehouse: the tables between assets.

Tables (one row = one signal record, provenance flattened):
    scrubbed_signals   PII-free records of each harvest partition (``partition_key``, ``intake``)
    validated_signals  records of each harvest partition that passed the row rules
    signal_history     every new observation of every partition (see ``_insert_observations``)
    quarantine         every row that left the flow in any run, with run_id, stage and reason
    features           labelled examples per decision with their split (train/calibration/eval)

Re-materialising a partition replaces that partition's rows; the feature table is a snapshot
replaced whole by each build.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator

import duckdb
import pandas as pd

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


def flatten(record: dict[str, Any], run_id: str, intake: str, partition_key: str | None = None) -> dict[str, Any]:
    """A signal-record dict (nested provenance) → one warehouse row of a harvest partition."""
    prov = record.get("provenance") or {}
    row = {k: record.get(k) for k in SIGNAL_COLUMNS}
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
    record["price"] = None if row["price"] is None or pd.isna(row["price"]) else \
        format(Decimal(row["price"]).normalize(), "f")
    if record.get("review_text") is not None:
        record["review_text"] = list(record["review_text"])
    for key in ("stock_count", "rating", "feedback"):
        if record.get(key) is not None and pd.isna(record[key]):
            record[key] = None
    if row.get("crawled_at") is not None:
        record["crawled_at"] = pd.Timestamp(row["crawled_at"]).isoformat()
    record["provenance"] = {"crawl_id": row["crawl_id"], "spider_version": row["spider_version"],
                            "http_status": None if pd.isna(row["http_status"]) else int(row["http_status"]),
                            "response_digest": row["response_digest"]}
    return record


class Warehouse:
    """Thin access layer over one DuckDB file. Each call opens and closes its own connection so
    concurrent Dagster steps (separate processes) never hold the file lock for long."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = duckdb.connect(str(self.path))
        try:
            con.execute(f"CREATE TABLE IF NOT EXISTS scrubbed_signals ({SIGNAL_DDL})")
            con.execute(f"CREATE TABLE IF NOT EXISTS validated_signals ({SIGNAL_DDL})")
            con.execute(f"CREATE TABLE IF NOT EXISTS signal_history ({SIGNAL_DDL})")
            con.execute(f"CREATE TABLE IF NOT EXISTS quarantine ({QUARANTINE_DDL})")
            con.execute(f"CREATE TABLE IF NOT EXISTS features ({FEATURES_DDL})")
            yield con
        finally:
            con.close()

    def write_signals(self, table: str, partition_key: str, rows: list[dict[str, Any]]) -> int:
        """Replace one partition's rows of ``table`` with ``rows`` (flattened); returns the count."""
        frame = pd.DataFrame(rows, columns=SIGNAL_COLUMNS)
        frame["crawled_at"] = pd.to_datetime(frame["crawled_at"], utc=True)
        with self.connect() as con:
            con.execute(f"DELETE FROM {table} WHERE partition_key = ?", [partition_key])
            if len(frame):
                frame["partition_key"] = partition_key
                con.register("frame", frame)
                con.execute(f"INSERT INTO {table} SELECT {', '.join(SIGNAL_COLUMNS)} FROM frame")
        return len(frame)

    def append_history(self) -> tuple[int, int]:
        """Append every validated partition to ``signal_history``; partitions already appended add
        nothing (see :meth:`_insert_observations`). Returns (added, total)."""
        with self.connect() as con:
            return self._insert_observations(con, "validated_signals")

    def append_rows_to_history(self, run_id: str, rows: list[dict[str, Any]]) -> tuple[int, int]:
        """Append flattened, already validated rows (a backfill) to ``signal_history``.
        Returns (added, total)."""
        frame = pd.DataFrame(rows, columns=SIGNAL_COLUMNS)
        frame["crawled_at"] = pd.to_datetime(frame["crawled_at"], utc=True, format="ISO8601")
        with self.connect() as con:
            con.register("frame", frame)
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
                "crawled_at": pd.Timestamp(row[2]).isoformat(), "source": row[3]}

    def write_quarantine(self, run_id: str, stage: str, rows: list[dict[str, Any]]) -> int:
        """Replace this run's quarantine rows of ``stage``; returns the count."""
        frame = pd.DataFrame([{**r, "run_id": run_id} for r in rows], columns=QUARANTINE_COLUMNS)
        frame["quarantined_at"] = pd.to_datetime(frame["quarantined_at"], utc=True)
        with self.connect() as con:
            con.execute("DELETE FROM quarantine WHERE run_id = ? AND stage = ?", [run_id, stage])
            if len(frame):
                con.register("frame", frame)
                con.execute(f"INSERT INTO quarantine SELECT {', '.join(QUARANTINE_COLUMNS)} FROM frame")
        return len(frame)

    def signals(self, table: str, where: str = "TRUE", params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a signal table as signal-record dicts (see :func:`unflatten`), with ``intake``."""
        with self.connect() as con:
            frame = con.execute(f"SELECT * REPLACE (CAST(price AS VARCHAR) AS price) FROM {table} WHERE {where}",
                                list(params)).df()
        return [{**unflatten(row), "intake": row["intake"]} for row in frame.to_dict("records")]

    def frame(self, sql: str, params: Iterable[Any] = ()) -> pd.DataFrame:
        """Any read query as a pandas DataFrame."""
        with self.connect() as con:
            return con.execute(sql, list(params)).df()

    def write_features(self, decision: str, run_id: str, rows: list[dict[str, Any]]) -> int:
        """Replace one decision's example snapshot."""
        frame = pd.DataFrame([{**r, "run_id": run_id, "decision": decision} for r in rows], columns=FEATURE_COLUMNS)
        with self.connect() as con:
            con.execute("DELETE FROM features WHERE decision = ?", [decision])
            if len(frame):
                con.register("frame", frame)
                con.execute(f"INSERT INTO features SELECT {', '.join(FEATURE_COLUMNS)} FROM frame")
        return len(frame)


def dumps(obj: Any) -> str:
    """JSON for metadata previews (Decimals and timestamps as strings)."""
    return json.dumps(obj, default=str, ensure_ascii=False)
