"""A SQLite store's part in retention, erasure and the privacy report (the live loop's store).

The policy's ``sqlite`` stores name a database of the state folder and one of its tables; their
time columns hold epoch seconds (REAL). Table and column names reach SQL as text, so each is
checked against the database's own schema (``PRAGMA table_info``) first. A missing database file
holds nothing and is never created here; nor does a table the file lacks (a store written before
the table was added: erasure, retention and the report must not stop halfway on it).

Erasure matches a row when its ``product_id``/``source`` column is the value, or when any text
column holds the value as a JSON string (the records the live loop keeps as JSON): the same rule
as the JSON-lines stores (:mod:`commons.erasure`). Deleted rows' bytes leave the file
(``VACUUM``, then a WAL checkpoint that truncates the log).

Counts and listings read the file as every reader of the live store does
(:func:`commons.existing_sqlite.open_existing`): also from a folder this process cannot write, so the
privacy report answers for another user's state folder. Deletions must write there (SQLite keeps its log
beside the file) and fail naming the folder.
"""

from __future__ import annotations

import errno
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from .existing_sqlite import open_existing


#: Column of a row that names the subject → the columns of other tables' rows that go with it.
LINKS: dict[str, tuple[str, ...]] = {"url": ("url", "product_key"), "insight_id": ("insight_id",)}


class SqliteTables:
    """Counts, ages and deletions by table of one SQLite file.

    Args:
        path: the database file; absent means empty.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @contextmanager
    def _connect(self, mode: str = "ro") -> Iterator[sqlite3.Connection]:
        """A connection to the existing file, ``mode`` ``"ro"`` (reads) or ``"rw"`` (deletions).

        Raises:
            PermissionError: ``"rw"``, and the file's folder is not writable by this process.
        """
        con = open_existing(self.path, mode)
        try:
            yield con
        except sqlite3.OperationalError as err:
            if err.sqlite_errorname != "SQLITE_READONLY_DIRECTORY":
                raise
            raise PermissionError(errno.EACCES, f"cannot change {self.path.name}: its folder {self.path.parent} is "
                                  "read-only to this process (SQLite writes its log beside the file); run as a user "
                                  "who may write that folder") from None
        finally:
            con.close()

    def _columns(self, con: sqlite3.Connection, table: str) -> dict[str, str]:
        """The table's columns and their declared types; none when the file lacks the table."""
        return {row[1]: row[2].upper() for row in con.execute("SELECT * FROM pragma_table_info(?)", (table,))}

    def columns(self, table: str) -> set[str]:
        """The column names of ``table``; none when the file or the table does not exist."""
        if not self.path.exists():
            return set()
        with self._connect() as con:
            return set(self._columns(con, table))

    def _checked(self, con: sqlite3.Connection, table: str, column: str) -> None:
        if column not in self._columns(con, table):
            raise KeyError(f"no column {column!r} in table {table!r} of {self.path}")

    def held(self, table: str, column: str | None) -> tuple[int, datetime | None]:
        """(rows, oldest ``column`` instant or None) of ``table``; ``column`` None: no age."""
        if not self.path.exists():
            return 0, None
        with self._connect() as con:
            if not self._columns(con, table):
                return 0, None
            if column is None:
                return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0], None
            self._checked(con, table, column)
            rows, oldest = con.execute(f"SELECT count(*), min({column}) FROM {table}").fetchone()
        return rows, datetime.fromtimestamp(oldest, timezone.utc) if oldest is not None else None

    def overdue(self, table: str, column: str, cutoff: datetime) -> int:
        """Rows of ``table`` whose ``column`` (epoch seconds) is before ``cutoff``."""
        if not self.path.exists():
            return 0
        with self._connect() as con:
            if not self._columns(con, table):
                return 0
            self._checked(con, table, column)
            return con.execute(f"SELECT count(*) FROM {table} WHERE {column} < ?",
                               (cutoff.timestamp(),)).fetchone()[0]

    def expire(self, table: str, column: str, cutoff: datetime) -> int:
        """Delete the rows of ``table`` whose ``column`` is before ``cutoff``; returns how many.

        Raises:
            PermissionError: the file's folder is not writable by this process (nothing is deleted).
        """
        if not self.path.exists():
            return 0
        with self._connect("rw") as con:
            if not self._columns(con, table):
                return 0
            self._checked(con, table, column)
            return con.execute(f"DELETE FROM {table} WHERE {column} < ?", (cutoff.timestamp(),)).rowcount

    def erase(self, tables: list[str], key: str, value: str) -> dict[str, int]:
        """Delete every row of ``tables`` naming ``key = value`` (module docstring), and every row
        linked to such a row (:data:`LINKS`: an alert cooldown keyed by the page's URL alone, a
        webhook delivery naming only its insight); returns rows removed per table, in one transaction.

        Raises:
            PermissionError: the file's folder is not writable by this process (nothing is deleted).
        """
        if not self.path.exists():
            return {table: 0 for table in tables}
        with self._connect("rw") as con:
            columns = {table: self._columns(con, table) for table in tables}
            matches = {table: self._matching(cols, key, value) for table, cols in columns.items() if cols}
            con.execute("BEGIN IMMEDIATE")
            linked = {source: sorted({found for table, (where, params) in matches.items() if source in columns[table]
                                      for (found,) in con.execute(f"SELECT {source} FROM {table} WHERE {where}",
                                                                  params)} - {None})
                      for source in LINKS}
            removed = {}
            for table, (where, params) in matches.items():
                for source, targets in LINKS.items():
                    for column in targets:
                        if column in columns[table] and linked[source]:
                            where = f"{where} OR {column} IN ({', '.join('?' * len(linked[source]))})"
                            params = [*params, *linked[source]]
                removed[table] = con.execute(f"DELETE FROM {table} WHERE {where}", params).rowcount
            con.execute("COMMIT")
        return {table: removed.get(table, 0) for table in tables}

    def product_ids(self, tables: list[str], key: str, value: str) -> set[str]:
        """The ``product_id`` of every row of ``tables`` naming ``key = value`` (the rule of
        :meth:`erase`): the products a source reported."""
        if not self.path.exists():
            return set()
        found: set[str] = set()
        with self._connect() as con:
            for table in tables:
                columns = self._columns(con, table)
                if "product_id" in columns:
                    where, params = self._matching(columns, key, value)
                    found |= {pid for (pid,) in con.execute(f"SELECT product_id FROM {table} WHERE {where}", params)}
        return found - {None}

    @staticmethod
    def _matching(columns: dict[str, str], key: str, value: str) -> tuple[str, list[str]]:
        where = [f"instr({c}, ?) > 0" for c, kind in columns.items() if kind == "TEXT"]
        params = [json.dumps(value)] * len(where)
        if key in columns:
            where, params = [f"{key} = ?", *where], [value, *params]
        return " OR ".join(where), params

    def compact(self) -> None:
        """Rewrite the file without the bytes of deleted rows, and empty the write-ahead log.

        Raises:
            PermissionError: the file's folder is not writable by this process.
        """
        if self.path.exists():
            with self._connect("rw") as con:
                con.execute("VACUUM")
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def tables(self) -> list[str]:
        """The database's own tables (not SQLite's ``sqlite_*`` bookkeeping), sorted; none when the
        file does not exist."""
        if not self.path.exists():
            return []
        with self._connect() as con:
            return [name for (name,) in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1")]

    def mentions(self, table: str, value: str) -> int:
        """Rows of ``table`` in which ``value`` appears in any column (as text)."""
        if not self.path.exists():
            return 0
        with self._connect() as con:
            columns = self._columns(con, table)
            if not columns:
                return 0
            where = " OR ".join(f"instr(CAST({c} AS TEXT), ?) > 0" for c in columns)
            return con.execute(f"SELECT count(*) FROM {table} WHERE {where}", [value] * len(columns)).fetchone()[0]
