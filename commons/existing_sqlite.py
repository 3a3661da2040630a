"""Opening an existing SQLite file as it is, also from a folder the reader cannot write: the one rule of every
reader of the live store (``live.store.existing_store``, and :class:`commons.sqlite_tables.SqliteTables`'s
counts for the privacy report and retention).

The live store is a WAL database: it is read through the ``-wal`` log and the ``-shm`` index beside it. A
reader opened ``mode=ro`` on a file no connection has open creates both (SQLite 3.22 and later) and
leaves them: an empty log and an index of no rows, which the next writer takes over and its clean close
removes. Where the reader may not create files (a read-only state folder, another user's folder),
SQLite refuses the read instead (``SQLITE_READONLY_DIRECTORY``), although the file alone then holds every
commit: a writer keeps its ``-wal`` for as long as it has the file open, and its clean close moves the log
into the file. Such a file is read ``immutable=1``: as it is, without log, index or locks.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_existing(path: Path, mode: str) -> sqlite3.Connection:
    """A connection to the existing SQLite file at ``path`` that adds no schema and changes no journal mode
    (a read may leave the empty log and index the module describes): ``mode`` ``"ro"`` (read only) or
    ``"rw"`` (rows may change); autocommit, rows as :class:`sqlite3.Row`, usable from any thread. Read-only,
    a file no writer has open in a folder this process cannot write is opened immutable: a writer that opens
    it later is not seen through this connection.

    Raises:
        sqlite3.DatabaseError: the file is missing, is not a database (``mode`` ``"ro"``: found here, by a
            first read), or is locked past 30 s.
    """
    uri = f"{Path(path).resolve().as_uri()}?mode={mode}"
    con = _connect(uri)
    if mode != "ro":
        return con
    try:
        # The first read is what opens the log and the index.
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as err:
        con.close()
        # SQLite answers so only where no -wal is beside the file (measured with SQLite 3.40: a -wal it cannot
        # index is SQLITE_CANTOPEN), so no commit lies outside the file for an immutable read to skip.
        if err.sqlite_errorname != "SQLITE_READONLY_DIRECTORY":
            raise
        return _connect(f"{uri}&immutable=1")
    return con


def _connect(uri: str) -> sqlite3.Connection:
    con = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None, check_same_thread=False)
    con.row_factory = sqlite3.Row
    return con
